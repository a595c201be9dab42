//! From a [`Config`] to running parts: store, HSM pool, signers, and the
//! answering stack, each layer given only what it uses.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hsm::{Hsm, KeyLabel, PoolConfig, SessionPool, TokenLabel};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::{Config, Settings};
use crate::core::Core;
use crate::error::ResponderError;
use crate::http::Handler;
use crate::issuer::{Issuer, NoHsm};
use crate::metrics::GaugeSource;
use crate::server::{start_with, InProcessUpdater, IssuerSetup, Running};
use crate::source::{Cached, IssuerFilter, Live, Stack};
use crate::table::Table;
use crate::updater::Updater;

/// A responder's parts before they run.
pub(crate) struct Assembly {
    /// The background side: change feed, pre-signing, probes, reloads.
    pub core: Arc<Core>,
    /// The transport, answering from the stack.
    pub handler: Handler<Stack>,
    /// The live signer's permits.
    pub live_permits: Arc<Semaphore>,
}

/// Builds the stack, each layer holding only what it uses:
///
/// ```text
/// IssuerFilter  the issuer list
///  -> Cached    memory mode's statuses and cache, counters
///  |  Table     table mode's cache, the store, counters
///   -> Live     signer threads, permits, status lookup, health, counters
/// ```
///
/// and the HTTP handler over it, which sees the stack, the counters,
/// [`crate::core::Health`] and the gauges, nothing else.
pub(crate) fn assemble(
    store: store::Store,
    issuers: Vec<Arc<Issuer>>,
    settings: Settings,
) -> Assembly {
    let core = Arc::new(Core::new(store, issuers, settings));
    let settings = core.settings();
    let metrics = Arc::clone(core.metrics());
    let health = Arc::clone(core.health());
    let live = Live::new(
        settings,
        core.table().is_some(),
        core.lookup().clone(),
        Arc::clone(&health),
        Arc::clone(&metrics),
    );
    let live_permits = Arc::clone(live.permits());
    let issuers = Arc::clone(core.issuer_list());
    let stack = match core.table() {
        Some(cache) => Stack::Table(IssuerFilter::new(
            issuers,
            Table::new(
                Arc::clone(cache),
                core.db().clone(),
                Arc::clone(&metrics),
                live,
            ),
        )),
        None => Stack::Memory(IssuerFilter::new(
            issuers,
            Cached::new(Arc::clone(core.memory()), Arc::clone(&metrics), live),
        )),
    };
    let gauges: Arc<dyn GaugeSource> = Arc::<Core>::clone(&core);
    let handler = Handler::new(stack, settings, metrics, health, gauges);
    Assembly {
        core,
        handler,
        live_permits,
    }
}

/// Largest certificate file read.
const MAX_CERT_FILE: u64 = 1 << 20;

/// Reads a PEM or DER certificate.
pub fn read_certificate(path: &Path) -> Result<Vec<u8>, ResponderError> {
    let io = |source| ResponderError::CertificateRead {
        path: path.to_owned(),
        source,
    };
    let invalid = |reason: String| ResponderError::CertificateInvalid {
        path: path.to_owned(),
        reason,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_CERT_FILE {
        return Err(invalid(format!(
            "{len} bytes, the limit is {MAX_CERT_FILE}"
        )));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let der = if bytes.starts_with(b"-----BEGIN") {
        let (label, der) = der::pem::decode_vec(&bytes).map_err(|e| invalid(e.to_string()))?;
        if label != "CERTIFICATE" {
            return Err(invalid(format!(
                "PEM label {label:?}, expected CERTIFICATE"
            )));
        }
        der
    } else {
        bytes
    };
    <x509_cert::Certificate as der::Decode>::from_der(&der).map_err(|e| invalid(e.to_string()))?;
    Ok(der)
}

/// Opens the HSM module and a session pool on the configured token.
pub fn open_hsm_pool(config: &Config) -> Result<SessionPool, ResponderError> {
    let Some(hsm_config) = &config.hsm else {
        return Err(ResponderError::ConfigInvalid {
            path: "(config)".into(),
            reason: "no [hsm] section: nothing can be signed".into(),
        });
    };
    let hsm = match (&hsm_config.softhsm_dir, &hsm_config.module) {
        (Some(dir), module) => {
            let module = module.clone().unwrap_or_else(hsm::module_path_from_env);
            hsm::softhsm::SoftHsm::open_with_module(dir, module)?
                .hsm()
                .clone()
        }
        (None, Some(module)) => Hsm::open(module)?,
        (None, None) => Hsm::from_env()?,
    };
    let pin = hsm_config
        .pin_source()
        .map_err(|reason| ResponderError::ConfigInvalid {
            path: "(config)".into(),
            reason,
        })?
        .read()?;
    let pool_config = PoolConfig {
        size: hsm_config.session_count(),
        ..PoolConfig::default()
    };
    Ok(SessionPool::new(
        &hsm,
        TokenLabel::new(hsm_config.token.clone())?,
        pin,
        pool_config,
    )?)
}

/// Opens the HSM and finds each configured issuer's signing key and
/// certificate.
pub async fn issuer_setups(
    config: &Config,
    store: &store::Store,
) -> Result<Vec<IssuerSetup>, ResponderError> {
    if config.hsm.is_none() {
        return unsigned_setups(config, store).await;
    }
    let pool = open_hsm_pool(config)?;
    let mut issuers = Vec::with_capacity(config.issuers.len());
    for i in &config.issuers {
        let label = match &i.key_label {
            Some(l) => l.clone(),
            None => store.require_ca(&i.ca).await?.key_label,
        };
        let key = pool.find_key(&KeyLabel::new(label)?)?;
        let signer = pool.signer(key)?;
        let responder_cert_der = i
            .responder_cert
            .as_deref()
            .map(read_certificate)
            .transpose()?;
        issuers.push(IssuerSetup {
            ca_name: i.ca.clone(),
            signer: Arc::new(signer),
            responder_cert_der,
        });
    }
    Ok(issuers)
}

/// Issuers of a responder without an HSM: each identity comes from its
/// responder certificate (or the CA certificate), and signing fails.
async fn unsigned_setups(
    config: &Config,
    store: &store::Store,
) -> Result<Vec<IssuerSetup>, ResponderError> {
    let mut issuers = Vec::with_capacity(config.issuers.len());
    for i in &config.issuers {
        let responder_cert_der = i
            .responder_cert
            .as_deref()
            .map(read_certificate)
            .transpose()?;
        let identity_cert = match &responder_cert_der {
            Some(der) => der.clone(),
            None => store.require_ca(&i.ca).await?.cert_der,
        };
        let signer = NoHsm::for_certificate(&identity_cert).map_err(|e| {
            ResponderError::CertificateInvalid {
                path: i.responder_cert.clone().unwrap_or_default(),
                reason: e.to_string(),
            }
        })?;
        issuers.push(IssuerSetup {
            ca_name: i.ca.clone(),
            signer: Arc::new(signer),
            responder_cert_der,
        });
    }
    Ok(issuers)
}

/// Opens everything `config` names and starts the responder.
pub async fn start_from_config(config: &Config) -> Result<Running, ResponderError> {
    let settings = config
        .settings()
        .map_err(|reason| ResponderError::ConfigInvalid {
            path: "(config)".into(),
            reason,
        })?;
    let primary = store::Store::open_existing(&config.database).await?;
    let store = match &config.database_read {
        Some(url) => store::Store::open_read(url).await?,
        None => primary.clone(),
    };
    let issuers = issuer_setups(config, &store).await?;
    let updater = config.updater.run.then(|| InProcessUpdater {
        primary: primary.clone(),
        settings: config.updater.settings(),
    });
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| ResponderError::Listen {
                addr: config.listen,
                source,
            })?;
    start_with(store, issuers, settings, listener, updater).await
}

/// `ocsp-responder --updater`: only the updater, on the primary, until
/// `stop` (no HTTP).
///
/// With `config_path` (the file `config` was loaded from), SIGHUP or a
/// change to it or to a responder certificate it names reloads the issuers
/// signed for, checked as at start (a refusal keeps the running ones).
pub async fn run_updater_from_config(
    config: &Config,
    config_path: Option<&Path>,
    stop: service_kit::Stop,
) -> Result<(), ResponderError> {
    let settings = config
        .settings()
        .map_err(|reason| ResponderError::ConfigInvalid {
            path: "(config)".into(),
            reason,
        })?;
    if config.hsm.is_none() {
        return Err(ResponderError::ConfigInvalid {
            path: "(config)".into(),
            reason: "the updater signs: it needs an [hsm] section".into(),
        });
    }
    let primary = store::Store::open_existing(&config.database).await?;
    let setups = issuer_setups(config, &primary).await?;
    let issuers = Arc::new(crate::issuer::Issuers::new(
        crate::server::resolve_issuers(&primary, setups).await?,
    ));
    let mut follow = None;
    if let Some(path) = config_path {
        let (store, list, file) = (primary.clone(), Arc::clone(&issuers), path.to_owned());
        let poll = (config.watch_secs > 0).then(|| Duration::from_secs(config.watch_secs));
        let task = follow_config(path.to_owned(), poll, stop.clone(), move || {
            let (store, list, file) = (store.clone(), Arc::clone(&list), file.clone());
            async move { reload_updater_issuers(&store, &list, &file).await }
        })
        .map_err(|e| ResponderError::Background(format!("cannot handle SIGHUP: {e}")))?;
        follow = Some(tokio::spawn(task));
    }
    let updater = Updater::following(
        primary,
        Arc::clone(&issuers),
        settings,
        config.updater.settings(),
    );
    // /metrics and /health/live on `listen`.
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| ResponderError::Listen {
                addr: config.listen,
                source,
            })?;
    if let Ok(addr) = listener.local_addr() {
        println!("updater metrics on http://{addr}/metrics");
    }
    let metrics = crate::updater_http::UpdaterMetrics {
        stats: Arc::clone(&updater.stats),
        issuers,
    };
    let http = tokio::spawn(crate::updater_http::serve(listener, metrics, stop.clone()));
    updater.run(stop).await;
    let _ = http.await;
    if let Some(follow) = follow {
        let _ = follow.await;
    }
    Ok(())
}

/// Reads the configuration at `path` again and puts its issuers and
/// responder certificates in place of the running ones
/// ([`crate::server::reload`]): every check of a start runs first, and a
/// refusal leaves the running issuers as they were. Other settings are
/// read at start only.
pub async fn reload_from_file(
    core: &Arc<crate::core::Core>,
    path: &Path,
) -> Result<crate::server::ReloadReport, ResponderError> {
    let config = Config::load(path)?;
    let setups = issuer_setups(&config, core.db().store()).await?;
    crate::server::reload(core, setups).await
}

/// What the configuration at `path` and the responder certificates it
/// names hold now (SHA-256 of each file, or of its absence), to notice
/// a change.
fn config_state(path: &Path) -> Vec<[u8; 32]> {
    let digest = |p: &Path| {
        let bytes = std::fs::read(p).unwrap_or_default();
        pki_core::cert::sha256(&bytes)
    };
    let mut state = vec![digest(path)];
    if let Ok(config) = Config::load(path) {
        for i in &config.issuers {
            if let Some(cert) = &i.responder_cert {
                state.push(digest(cert));
            }
        }
    }
    state
}

/// Calls `reload` on SIGHUP and when the file at `path`, or a responder
/// certificate it names, changes (checked every `poll`; `None`: SIGHUP
/// only), until `stop`. A refused reload is logged with its reason; the
/// running issuers stay.
pub(crate) fn follow_config<F, Fut>(
    path: std::path::PathBuf,
    poll: Option<std::time::Duration>,
    mut stop: service_kit::Stop,
    mut reload: F,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), ResponderError>> + Send,
{
    // Installed now, before the caller reports that it runs: from here a
    // SIGHUP reloads instead of ending the process.
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    // The files as they are now: a change from here on reloads.
    let mut seen = config_state(&path);
    let watch = poll.is_some();
    let period = poll.unwrap_or(std::time::Duration::from_secs(3600));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    Ok(async move {
        loop {
            let why = tokio::select! {
                () = stop.stopped() => return,
                _ = hangup.recv() => "SIGHUP",
                _ = tick.tick(), if watch => {
                    let now = config_state(&path);
                    if now == seen {
                        continue;
                    }
                    "a changed file"
                }
            };
            // Seen before reloading: a file that changes again during the
            // reload is reloaded at the next tick.
            seen = config_state(&path);
            tracing::info!(config = %path.display(), trigger = why, "reloading issuers");
            if let Err(e) = reload().await {
                tracing::error!(config = %path.display(), "reload refused, the running issuers stay: {e}");
            }
        }
    })
}

/// [`follow_config`] for a running responder: [`reload_from_file`],
/// counted in its metrics.
pub(crate) fn follow_config_for(
    core: Arc<crate::core::Core>,
    path: std::path::PathBuf,
    poll: Option<std::time::Duration>,
    stop: service_kit::Stop,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    let file = path.clone();
    follow_config(path, poll, stop, move || {
        let core = Arc::clone(&core);
        let path = file.clone();
        async move {
            let result = reload_from_file(&core, &path).await;
            let counter = if result.is_ok() {
                &core.metrics().reloads
            } else {
                &core.metrics().reloads_refused
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            result.map(|_| ())
        }
    })
}

/// Reloads the issuers an updater signs for from the configuration at
/// `path`: the same checks as a start; nothing changes on a refusal.
async fn reload_updater_issuers(
    store: &store::Store,
    issuers: &crate::issuer::Issuers,
    path: &Path,
) -> Result<(), ResponderError> {
    let config = Config::load(path)?;
    let setups = issuer_setups(&config, store).await?;
    let resolved = crate::server::resolve_issuers_after(store, setups, &issuers.current()).await?;
    let names: Vec<&str> = resolved.iter().map(|i| i.name.as_str()).collect();
    tracing::info!(issuers = ?names, "updater issuers reloaded");
    issuers.replace(resolved);
    Ok(())
}
