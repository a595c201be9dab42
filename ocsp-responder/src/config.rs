//! The responder's TOML configuration: strict (unknown keys are errors),
//! every bound explicit, paths relative to the file.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! database = "sqlite://var/pki.db"
//! unissued = "unknown"            # or "revoked" (RFC 6960 2.2)
//!
//! [responses]
//! source = "memory"               # or "table": the store's response table,
//!                                 # signed once by the updater
//! validity_secs = 345600          # 4 days
//! refresh_after_secs = 172800     # re-sign after half the validity
//! presign_hashes = ["sha1"]       # CertID hashes pre-signed at start
//! cache_capacity = 1000000
//!
//! [updater]                       # table mode: sign into the table here too
//! run = true                      # (or run `ocsp-responder --updater`)
//! batch = 1000
//!
//! [live]
//! max_concurrent = 8              # HSM signatures in flight
//! max_wait_ms = 250               # then tryLater
//! max_sign_ms = 2000              # a signature taking longer: tryLater
//! signer_threads = 8              # threads calling the HSM (default max_concurrent)
//!
//! [hsm]
//! module = "/usr/lib/softhsm/libsofthsm2.so"
//! token = "ocsp"
//! pin_env = "OCSP_HSM_PIN"        # or pin_file = "..."
//!
//! watch_secs = 5                  # reload [[issuer]]s when this file or a
//!                                 # responder_cert changes (also on SIGHUP)
//!
//! [[issuer]]
//! ca = "cnie-citizen-ca"          # CA name in the store
//! key_label = "ocsp-cnie-2026"    # signing key in the HSM
//! responder_cert = "ocsp-cnie.pem" # delegated signer; omit to sign with the CA key
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pki_core::ocsp::{HashAlgorithm, RequestLimits};
use serde::Deserialize;
use service_kit::config_file;
use service_kit::PinSource;

use crate::error::ResponderError;
use crate::status::UnissuedPolicy;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://...`: the primary (the updater and
    /// `pki` write there).
    pub database: String,
    /// Table mode: a PostgreSQL streaming replica to read from instead of
    /// `database` (opened read-only, never migrated).
    #[serde(default)]
    pub database_read: Option<String>,
    #[serde(default)]
    pub updater: UpdaterConfig,
    #[serde(default)]
    pub unissued: UnissuedPolicy,
    #[serde(default)]
    pub responses: ResponsesConfig,
    #[serde(default)]
    pub live: LiveConfig,
    #[serde(default)]
    pub requests: RequestsConfig,
    #[serde(default)]
    pub changes: ChangesConfig,
    /// The signing token. Optional for table-mode responders: without it,
    /// what the table cannot answer gets `tryLater`.
    #[serde(default)]
    pub hsm: Option<HsmConfig>,
    #[serde(rename = "issuer")]
    pub issuers: Vec<IssuerConfig>,
    /// Seconds to let open connections finish on shutdown.
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    /// Path of the responder URL when it has one (the AIA URL
    /// `http://ocsp.example.ma/cnie` gives `/cnie`): GET requests are then
    /// `/cnie/{base64}`. POST is accepted on any path.
    #[serde(default)]
    pub base_path: Option<String>,
    /// Seconds between looks at this file and the responder certificates
    /// it names: a change reloads the issuers (as SIGHUP does). 0: SIGHUP
    /// only.
    #[serde(default = "default_watch")]
    pub watch_secs: u64,
}

fn default_watch() -> u64 {
    5
}

fn default_grace() -> u64 {
    10
}

/// Where responses come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseSource {
    /// Every status loaded and every response pre-signed in this process
    /// (a single box with few certificates).
    #[default]
    Memory,
    /// The store's response table, signed once by the updater and shared
    /// by every responder; a bounded memory cache in front.
    Table,
}

/// The updater role (table mode).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdaterConfig {
    /// Run the updater inside this responder as well.
    pub run: bool,
    /// Serials per batch.
    pub batch: u32,
    /// Seconds the updater lease lasts (renewed every third).
    pub lease_secs: u64,
    /// Pause between idle rounds, in milliseconds.
    pub idle_ms: u64,
}

impl Default for UpdaterConfig {
    fn default() -> Self {
        Self {
            run: false,
            batch: 1_000,
            lease_secs: 30,
            idle_ms: 1_000,
        }
    }
}

impl UpdaterConfig {
    pub fn settings(&self) -> crate::updater::UpdaterSettings {
        crate::updater::UpdaterSettings {
            batch: self.batch.max(1),
            lease: Duration::from_secs(self.lease_secs.max(3)),
            idle: Duration::from_millis(self.idle_ms.max(10)),
            ..crate::updater::UpdaterSettings::default()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponsesConfig {
    pub source: ResponseSource,
    pub validity_secs: u64,
    /// Default: half of `validity_secs`.
    pub refresh_after_secs: Option<u64>,
    pub presign_hashes: Vec<String>,
    pub cache_capacity: usize,
    /// Threads signing in parallel while pre-signing (default: HSM sessions).
    pub presign_threads: Option<usize>,
}

impl Default for ResponsesConfig {
    fn default() -> Self {
        Self {
            source: ResponseSource::Memory,
            validity_secs: 4 * 86_400,
            refresh_after_secs: None,
            presign_hashes: vec!["sha1".into()],
            cache_capacity: 1_000_000,
            presign_threads: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    pub max_concurrent: usize,
    pub max_wait_ms: u64,
    /// Longest wait for a signature once signing started (a hung HSM).
    pub max_sign_ms: u64,
    /// Threads calling the HSM for live signatures (at most
    /// `max_concurrent`, the default). One suits a token that signs one
    /// at a time with a key (SoftHSM); a network HSM wants one per session.
    pub signer_threads: Option<usize>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            max_concurrent: 8,
            max_wait_ms: 250,
            max_sign_ms: 2_000,
            signer_threads: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestsConfig {
    pub max_bytes: usize,
    pub max_cert_ids: usize,
    pub max_nonce_len: usize,
}

impl Default for RequestsConfig {
    fn default() -> Self {
        let d = RequestLimits::default();
        Self {
            max_bytes: d.max_len,
            max_cert_ids: d.max_cert_ids,
            max_nonce_len: d.max_nonce_len,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChangesConfig {
    /// How often the change feed is polled (SQLite; PostgreSQL too, as a
    /// fallback to LISTEN).
    pub poll_ms: u64,
    /// Timeout of one database call.
    pub db_timeout_ms: u64,
    /// Not ready while the read replica is further behind than this.
    pub max_replica_lag_ms: u64,
}

impl Default for ChangesConfig {
    fn default() -> Self {
        Self {
            poll_ms: 1000,
            db_timeout_ms: 2000,
            max_replica_lag_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HsmConfig {
    /// PKCS#11 module (default `PKCS11_MODULE` or SoftHSM2).
    pub module: Option<PathBuf>,
    pub token: String,
    /// Environment variable holding the user PIN.
    pub pin_env: Option<String>,
    /// File holding the user PIN (first line).
    pub pin_file: Option<PathBuf>,
    /// Sessions in the pool (default: two per CPU, so that signatures in
    /// flight overlap with the HTTP work around them).
    pub sessions: Option<usize>,
    /// SoftHSM2 directory (`softhsm2.conf` and `tokens/`), for the demo.
    pub softhsm_dir: Option<PathBuf>,
}

impl HsmConfig {
    /// Where the user PIN is: `pin_env` or `pin_file`, exactly one.
    pub fn pin_source(&self) -> Result<PinSource, String> {
        PinSource::from_keys(self.pin_env.as_deref(), self.pin_file.as_deref())
            .map_err(|e| format!("hsm: {e}"))?
            .ok_or_else(|| "hsm: set pin_env or pin_file".to_owned())
    }

    /// `sessions`, or two per CPU.
    pub fn session_count(&self) -> usize {
        self.sessions
            .unwrap_or_else(|| 2 * std::thread::available_parallelism().map_or(1, usize::from))
            .max(1)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The CA's name in the store.
    pub ca: String,
    /// Label of the signing key in the HSM. Default: the CA's own key label
    /// from the store (only without `responder_cert`).
    pub key_label: Option<String>,
    /// PEM or DER certificate of the delegated OCSP signer.
    pub responder_cert: Option<PathBuf>,
    /// Path of this CA's OCSP URL as its certificates write it (the AIA
    /// URL `http://ocsp.pki.example.ma/cnie-citizen-ca` gives
    /// `/cnie-citizen-ca`): GET requests are answered under it too.
    pub path: Option<String>,
}

/// Everything derived from [`Config`] that the core needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub source: ResponseSource,
    /// An HSM is configured; without one (table mode only) nothing is
    /// signed here and readiness does not wait for it.
    pub signing: bool,
    /// Memory mode: pre-sign after becoming ready, in the background (the
    /// service), rather than before [`crate::start`] returns (tests, tools).
    pub presign_in_background: bool,
    /// Not ready while the read replica lags more.
    pub max_replica_lag: Duration,
    pub validity: Duration,
    pub refresh_after: Duration,
    pub presign_hashes: Vec<HashAlgorithm>,
    pub cache_capacity: usize,
    pub presign_threads: usize,
    pub live_concurrency: usize,
    /// Longest wait for a turn to sign live; then tryLater.
    pub live_wait: Duration,
    /// Longest wait for a live signature once its turn came (a hung HSM);
    /// then tryLater. The signer thread stays busy until the HSM answers.
    pub live_sign_timeout: Duration,
    /// Threads signing live (capped at `live_concurrency`).
    pub live_threads: usize,
    pub limits: RequestLimits,
    pub unissued: UnissuedPolicy,
    pub poll_interval: Duration,
    pub db_timeout: Duration,
    /// How often the re-signer looks for responses past `refresh_after`.
    pub refresh_check: Duration,
    /// How often a failed HSM is probed while nothing else signs.
    pub hsm_probe: Duration,
    /// Prefix of GET request paths, `""` or `/name` (no trailing slash).
    pub base_path: String,
    /// More GET prefixes (each issuer's OCSP URL path), as `base_path`.
    pub issuer_paths: Vec<String>,
    /// How long open connections get to finish on shutdown.
    pub shutdown_grace: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        let validity = Duration::from_secs(4 * 86_400);
        Self {
            source: ResponseSource::Memory,
            signing: true,
            presign_in_background: false,
            max_replica_lag: Duration::from_secs(5),
            validity,
            refresh_after: validity / 2,
            presign_hashes: vec![HashAlgorithm::Sha1],
            cache_capacity: 1_000_000,
            presign_threads: 2,
            live_concurrency: 8,
            live_wait: Duration::from_millis(250),
            live_sign_timeout: Duration::from_secs(2),
            live_threads: 8,
            limits: RequestLimits::default(),
            unissued: UnissuedPolicy::Unknown,
            poll_interval: Duration::from_secs(1),
            db_timeout: Duration::from_secs(2),
            refresh_check: Duration::from_secs(60),
            hsm_probe: Duration::from_secs(2),
            base_path: String::new(),
            issuer_paths: Vec::new(),
            shutdown_grace: service_kit::accept::DEFAULT_DRAIN,
        }
    }
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ResponderError> {
        let mut config: Self = config_file::load(path)?.value;
        let base = config_file::base_dir(path);
        for issuer in &mut config.issuers {
            if let Some(p) = &mut issuer.responder_cert {
                *p = base.join(&*p);
            }
        }
        if let Some(hsm) = &mut config.hsm {
            if let Some(p) = &mut hsm.pin_file {
                *p = base.join(&*p);
            }
            if let Some(p) = &mut hsm.softhsm_dir {
                *p = base.join(&*p);
            }
        }
        config
            .settings()
            .map_err(|reason| ResponderError::ConfigInvalid {
                path: path.to_owned(),
                reason,
            })?;
        Ok(config)
    }

    /// The validated [`Settings`].
    pub fn settings(&self) -> Result<Settings, String> {
        let r = &self.responses;
        if r.validity_secs < 60 {
            return Err("responses.validity_secs must be at least 60".into());
        }
        let refresh_after = r.refresh_after_secs.unwrap_or(r.validity_secs / 2);
        if refresh_after == 0 || refresh_after >= r.validity_secs {
            return Err("responses.refresh_after_secs must be between 1 and validity_secs".into());
        }
        let presign_hashes = r
            .presign_hashes
            .iter()
            .map(|h| {
                HashAlgorithm::from_name(h)
                    .ok_or_else(|| format!("responses.presign_hashes: unknown hash {h:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.live.max_concurrent == 0 {
            return Err("live.max_concurrent must be at least 1".into());
        }
        if self.requests.max_bytes == 0 || self.requests.max_cert_ids == 0 {
            return Err("requests limits must be at least 1".into());
        }
        if self.issuers.is_empty() {
            return Err("at least one [[issuer]] is required".into());
        }
        match &self.hsm {
            Some(hsm) => {
                hsm.pin_source()?;
            }
            None if r.source == ResponseSource::Memory || self.updater.run => {
                return Err(
                    "[hsm] is required unless [responses] source = \"table\" without [updater] run"
                        .into(),
                );
            }
            None => {}
        }
        for i in &self.issuers {
            if i.responder_cert.is_some() && i.key_label.is_none() {
                return Err(format!(
                    "issuer {:?}: responder_cert needs the key_label of its key",
                    i.ca
                ));
            }
        }
        let sessions = self.hsm.as_ref().map_or(1, HsmConfig::session_count);
        let base_path = get_prefix("base_path", self.base_path.as_deref())?;
        let mut issuer_paths = Vec::new();
        for i in &self.issuers {
            let what = format!("issuer {:?}: path", i.ca);
            let p = get_prefix(&what, i.path.as_deref())?;
            if !p.is_empty() && p != base_path && !issuer_paths.contains(&p) {
                issuer_paths.push(p);
            }
        }
        let validity = Duration::from_secs(r.validity_secs);
        if r.source == ResponseSource::Memory && (self.database_read.is_some() || self.updater.run)
        {
            return Err("database_read and [updater] need [responses] source = \"table\"".into());
        }
        Ok(Settings {
            source: r.source,
            signing: self.hsm.is_some(),
            presign_in_background: true,
            max_replica_lag: Duration::from_millis(self.changes.max_replica_lag_ms),
            validity,
            refresh_after: Duration::from_secs(refresh_after),
            presign_hashes,
            cache_capacity: r.cache_capacity,
            presign_threads: r.presign_threads.unwrap_or(sessions).max(1),
            // More signatures in flight than sessions would make the pool
            // open and close extra sessions under load.
            live_concurrency: self.live.max_concurrent.min(sessions),
            live_wait: Duration::from_millis(self.live.max_wait_ms),
            live_sign_timeout: Duration::from_millis(self.live.max_sign_ms.max(1)),
            live_threads: self
                .live
                .signer_threads
                .unwrap_or(usize::MAX)
                .min(self.live.max_concurrent.min(sessions))
                .max(1),
            limits: RequestLimits {
                max_len: self.requests.max_bytes,
                max_cert_ids: self.requests.max_cert_ids,
                max_nonce_len: self.requests.max_nonce_len,
            },
            unissued: self.unissued,
            poll_interval: Duration::from_millis(self.changes.poll_ms.max(10)),
            db_timeout: Duration::from_millis(self.changes.db_timeout_ms.max(10)),
            refresh_check: Duration::from_secs(refresh_after.clamp(1, 600) / 10 + 1),
            hsm_probe: Duration::from_secs(2),
            base_path,
            issuer_paths,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        })
    }
}

/// A GET path prefix: `""` or `/name` (no trailing slash).
fn get_prefix(what: &str, path: Option<&str>) -> Result<String, String> {
    match path {
        None | Some("" | "/") => Ok(String::new()),
        Some(p) if p.starts_with('/') && !p.ends_with('/') && !p.contains("//") => Ok(p.to_owned()),
        Some(p) => Err(format!(
            "{what} {p:?} must start with '/' and not end with one"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
listen = "127.0.0.1:0"
database = "sqlite://x.db"
[hsm]
token = "ocsp"
pin_env = "PIN"
[[issuer]]
ca = "ca"
"#;

    #[test]
    fn minimal_config_gets_defaults() {
        let c: Config = toml::from_str(MINIMAL).unwrap();
        let s = c.settings().unwrap();
        assert_eq!(s.validity, Duration::from_secs(345_600));
        assert_eq!(s.refresh_after, Duration::from_secs(172_800));
        assert_eq!(s.presign_hashes, vec![HashAlgorithm::Sha1]);
        assert_eq!(s.limits.max_len, 10_000);
        assert_eq!(s.unissued, UnissuedPolicy::Unknown);
    }

    #[test]
    fn sections_may_set_only_some_keys() {
        let text = format!("{MINIMAL}[changes]\npoll_ms = 250\n[live]\nmax_wait_ms = 5\n");
        let text = text.replace("[[issuer]]\nca = \"ca\"\n", "");
        let c: Config = toml::from_str(&format!("{text}[[issuer]]\nca = \"ca\"\n")).unwrap();
        let s = c.settings().unwrap();
        assert_eq!(s.poll_interval, Duration::from_millis(250));
        assert_eq!(s.db_timeout, Duration::from_secs(2));
        assert_eq!(s.live_wait, Duration::from_millis(5));
        assert_eq!(s.live_sign_timeout, Duration::from_secs(2));
        assert_eq!(
            s.live_threads, s.live_concurrency,
            "one per permit by default"
        );
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(
            s.live_concurrency,
            8.min(2 * cpus),
            "capped at the session count"
        );
    }

    #[test]
    fn only_table_mode_runs_without_an_hsm() {
        let no_hsm = MINIMAL.replace("[hsm]\ntoken = \"ocsp\"\npin_env = \"PIN\"\n", "");
        let c: Config = toml::from_str(&no_hsm).unwrap();
        assert!(c.settings().unwrap_err().contains("[hsm] is required"));
        let table = no_hsm.replace("[[issuer]]", "[responses]\nsource = \"table\"\n[[issuer]]");
        let c: Config = toml::from_str(&table).unwrap();
        assert!(!c.settings().unwrap().signing);
        let updater = format!("{table}[updater]\nrun = true\n");
        let c: Config = toml::from_str(&updater).unwrap();
        assert!(c.settings().unwrap_err().contains("[hsm] is required"));
        let replica = format!("database_read = \"postgres://r/pki\"\n{MINIMAL}");
        let c: Config = toml::from_str(&replica).unwrap();
        assert!(c.settings().unwrap_err().contains("source = \"table\""));
    }

    #[test]
    fn signer_threads_are_capped_at_the_permits() {
        let with = |live: &str| {
            let text = MINIMAL.replace("[[issuer]]\nca = \"ca\"\n", "");
            let c: Config =
                toml::from_str(&format!("{text}[live]\n{live}\n[[issuer]]\nca = \"ca\"\n"))
                    .unwrap();
            c.settings().unwrap()
        };
        let s = with("max_concurrent = 2\nsigner_threads = 1\nmax_sign_ms = 50");
        assert_eq!((s.live_concurrency, s.live_threads), (2, 1));
        assert_eq!(s.live_sign_timeout, Duration::from_millis(50));
        let s = with("max_concurrent = 2\nsigner_threads = 64");
        assert_eq!(s.live_threads, 2);
        let s = with("max_concurrent = 2\nsigner_threads = 0");
        assert_eq!(s.live_threads, 1);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let typo = MINIMAL.replace("token =", "tokne =");
        assert!(toml::from_str::<Config>(&typo).is_err());
        let policy = format!("unissued = \"good\"\n{MINIMAL}");
        assert!(toml::from_str::<Config>(&policy).is_err());
        for (path, ok) in [
            ("/cnie", true),
            ("/", true),
            ("cnie", false),
            ("/cnie/", false),
        ] {
            let c: Config = toml::from_str(&format!("base_path = \"{path}\"\n{MINIMAL}")).unwrap();
            assert_eq!(c.settings().is_ok(), ok, "{path}");
        }
        let revoked = format!("unissued = \"revoked\"\n{MINIMAL}");
        let c: Config = toml::from_str(&revoked).unwrap();
        assert_eq!(c.settings().unwrap().unissued, UnissuedPolicy::Revoked);
        let both = MINIMAL.replace("pin_env = \"PIN\"", "pin_env = \"PIN\"\npin_file = \"p\"");
        let c: Config = toml::from_str(&both).unwrap();
        assert!(c.settings().unwrap_err().contains("not both"));
        let neither = MINIMAL.replace("pin_env = \"PIN\"\n", "");
        let c: Config = toml::from_str(&neither).unwrap();
        assert!(c.settings().unwrap_err().contains("pin_env or pin_file"));
        let hashes = format!("{MINIMAL}[responses]\nvalidity_secs = 600\npresign_hashes = [\"md5\"]\ncache_capacity = 10\n");
        let hashes = hashes.replace("[[issuer]]\nca = \"ca\"\n", "");
        let hashes = format!("{hashes}[[issuer]]\nca = \"ca\"\n");
        let c: Config = toml::from_str(&hashes).unwrap();
        assert!(c.settings().unwrap_err().contains("md5"));
    }

    #[test]
    fn issuer_paths_are_get_prefixes() {
        let two = format!(
            "{MINIMAL}path = \"/cnie-citizen-ca\"\n[[issuer]]\nca = \"org\"\npath = \"/organisations-ca\"\n"
        );
        let c: Config = toml::from_str(&two).unwrap();
        assert_eq!(
            c.settings().unwrap().issuer_paths,
            ["/cnie-citizen-ca", "/organisations-ca"]
        );
        let bad = format!("{MINIMAL}path = \"cnie/\"\n");
        let c: Config = toml::from_str(&bad).unwrap();
        let err = c.settings().unwrap_err();
        assert!(err.contains("issuer \"ca\": path"), "{err}");
    }
}
