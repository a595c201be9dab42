//! Starting, serving and stopping a responder.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use pki_core::ocsp::{IssuerHashes, ResponderIdentity};
use pki_core::Signer;
use service_kit::access::Access;
use service_kit::{accept_loop, serve_http1, Stop, Tasks};
use store::Store;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::Settings;
use crate::core::{run_background, Core, PresignReport};
use crate::delegation::{self, Expiry, Probe, ResponderCheck};
use crate::error::ResponderError;
use crate::http::Handler;
use crate::issuer::Issuer;
use crate::source::Stack;
use crate::updater::{Updater, UpdaterSettings};

/// One CA to answer for, before it is resolved against the store.
pub struct IssuerSetup {
    /// The CA's name in the store.
    pub ca_name: String,
    /// The key that signs this CA's responses.
    pub signer: Arc<dyn Signer>,
    /// DER of the delegated OCSP signer certificate; `None` when `signer`
    /// is the CA key itself.
    pub responder_cert_der: Option<Vec<u8>>,
}

impl std::fmt::Debug for IssuerSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerSetup")
            .field("ca_name", &self.ca_name)
            .field("delegated", &self.responder_cert_der.is_some())
            .finish_non_exhaustive()
    }
}

/// A running responder: listening, answering, following the store.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    core: Arc<Core>,
    /// The live signer's permits (for in-process inspection).
    live_permits: Arc<Semaphore>,
    tasks: Tasks,
    presign: PresignReport,
}

/// Finds each issuer's CA in the store and checks its signing identity
/// ([`crate::delegation::check_identity`]): a responder certificate not
/// issued by the CA, without id-kp-OCSPSigning, outside its validity or
/// not matching the key refuses the start, naming the issuer and the check.
pub async fn resolve_issuers(
    store: &Store,
    issuers: Vec<IssuerSetup>,
) -> Result<Vec<Arc<Issuer>>, ResponderError> {
    resolve_issuers_after(store, issuers, &[]).await
}

/// [`resolve_issuers`] for a reload: a CA already in `previous` keeps its
/// index (caches and statuses are keyed by it), a new one gets the next
/// free index.
pub async fn resolve_issuers_after(
    store: &Store,
    issuers: Vec<IssuerSetup>,
    previous: &[Arc<Issuer>],
) -> Result<Vec<Arc<Issuer>>, ResponderError> {
    let mut next_index = previous
        .iter()
        .map(|i| i.index.saturating_add(1))
        .max()
        .unwrap_or(0);
    let now = pki_core::UnixTime::now();
    let mut resolved = Vec::with_capacity(issuers.len());
    for setup in issuers {
        let ca = store.require_ca(&setup.ca_name).await?;
        if resolved.iter().any(|i: &Arc<Issuer>| i.ca == ca.id) {
            return Err(ResponderError::DuplicateIssuer { ca: ca.name });
        }
        let hashes = IssuerHashes::from_certificate_der(&ca.cert_der).map_err(|source| {
            ResponderError::IssuerCertificate {
                ca: ca.name.clone(),
                source,
            }
        })?;
        let (expiry, probe) =
            check_off_thread(&ca.cert_der, &setup, now)
                .await
                .map_err(|check| ResponderError::ResponderRefused {
                    ca: ca.name.clone(),
                    check,
                })?;
        if let Probe::Skipped(reason) = &probe {
            tracing::warn!(
                issuer = %ca.name,
                %reason,
                "signing identity checked without a probe signature: the key cannot sign now (no HSM configured, or the HSM is unavailable); its public key matches the certificate"
            );
        }
        let identity = match &setup.responder_cert_der {
            Some(der) => {
                ResponderIdentity::delegated(der, setup.signer.as_ref()).map_err(|source| {
                    ResponderError::ResponderIdentity {
                        ca: ca.name.clone(),
                        source,
                    }
                })?
            }
            None => ResponderIdentity::issuer_key(setup.signer.as_ref()),
        };
        let index = if let Some(old) = previous.iter().find(|i| i.ca == ca.id) {
            old.index
        } else {
            let index = next_index;
            next_index = next_index.saturating_add(1);
            index
        };
        resolved.push(Arc::new(Issuer {
            index,
            name: ca.name,
            ca: ca.id,
            hashes,
            identity,
            signer: setup.signer,
            expiry,
            responder_cert_der: setup.responder_cert_der,
        }));
    }
    Ok(resolved)
}

/// Longest wait for the probe signature of a start or a reload: a hung
/// HSM must not hold either for ever.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// [`crate::delegation::check_identity`], the probe signature on a
/// blocking thread (it goes through the HSM) bounded by
/// [`PROBE_TIMEOUT`]: a probe that does not come back in time counts as one
/// the HSM cannot make now.
async fn check_off_thread(
    ca_der: &[u8],
    setup: &IssuerSetup,
    now: pki_core::UnixTime,
) -> Result<(Expiry, Probe), ResponderCheck> {
    let expiry = delegation::check_certificate(
        ca_der,
        setup.responder_cert_der.as_deref(),
        setup.signer.as_ref(),
        now,
    )?;
    let ca_der = ca_der.to_vec();
    let responder = setup.responder_cert_der.clone();
    let signer = Arc::clone(&setup.signer);
    let probe = tokio::task::spawn_blocking(move || {
        delegation::probe_key(&ca_der, responder.as_deref(), signer.as_ref())
    });
    let probe = match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(Ok(result)) => result?,
        Ok(Err(join)) => {
            return Err(ResponderCheck::ProbeFailed {
                reason: format!("the probe stopped: {join}"),
            })
        }
        Err(_) => Probe::Skipped(format!(
            "the HSM did not sign within {} s",
            PROBE_TIMEOUT.as_secs()
        )),
    };
    Ok((expiry, probe))
}

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Issuers whose responder certificate or key changed.
    pub rotated: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// Checks `issuers` like a start does and, when every check passes, puts
/// them in place of the running ones. Requests in flight finish with the
/// list they started with; nothing is dropped. On any failure nothing
/// changes and the error names the issuer and the check.
///
/// Memory mode loads statuses at start only: adding a CA there needs a
/// restart (refused here, named). Cached responses of a rotated or removed
/// issuer are dropped (new ones are signed on demand).
pub async fn reload(
    core: &Arc<Core>,
    issuers: Vec<IssuerSetup>,
) -> Result<ReloadReport, ResponderError> {
    let previous = core.issuers();
    let resolved = resolve_issuers_after(core.db().store(), issuers, &previous).await?;
    let mut report = ReloadReport::default();
    for new in &resolved {
        match previous.iter().find(|old| old.ca == new.ca) {
            None => report.added.push(new.name.clone()),
            Some(old) => {
                if old.responder_cert_der != new.responder_cert_der
                    || old.signer.public_key() != new.signer.public_key()
                {
                    report.rotated.push(new.name.clone());
                }
            }
        }
    }
    for old in previous.iter() {
        if !resolved.iter().any(|new| new.ca == old.ca) {
            report.removed.push(old.name.clone());
        }
    }
    if core.table().is_none() {
        if let Some(ca) = report.added.first() {
            return Err(ResponderError::ReloadNeedsRestart {
                ca: ca.clone(),
                reason:
                    "a responder holding statuses in memory loads a CA's statuses at start only",
            });
        }
    }
    core.issuer_list().replace(resolved);
    // After the swap: a response signed with the old identity meanwhile
    // may still land in the cache; it is valid (the old certificate passed
    // the same checks) and is replaced at the next refresh.
    let dropped = report.rotated.iter().chain(&report.removed);
    for name in dropped {
        if let Some(i) = previous.iter().find(|i| &i.name == name) {
            core.memory().clear_issuer(i.index);
        }
    }
    if let Some(table) = core.table() {
        if !report.rotated.is_empty() || !report.removed.is_empty() {
            table.clear();
        }
    } else if !report.rotated.is_empty() {
        // Sign again in the background what the cache held, rather than
        // live on every request.
        crate::core::spawn_presign(core);
    }
    tracing::info!(
        rotated = ?report.rotated,
        added = ?report.added,
        removed = ?report.removed,
        "issuers reloaded"
    );
    Ok(report)
}

/// Resolves the issuers in the store, loads every status, pre-signs, then
/// serves on `listener` until [`Running::shutdown`].
pub async fn start(
    store: Store,
    issuers: Vec<IssuerSetup>,
    settings: Settings,
    listener: TcpListener,
) -> Result<Running, ResponderError> {
    start_with(store, issuers, settings, listener, None).await
}

/// The updater to run inside a responder: the primary it writes to and
/// how it works.
#[derive(Debug)]
pub struct InProcessUpdater {
    pub primary: Store,
    pub settings: UpdaterSettings,
}

/// [`start`], with the updater running in the same process when given
/// (table mode). In table mode nothing is loaded: the responder is ready
/// as soon as the store answers and the HSM has signed once.
pub async fn start_with(
    store: Store,
    issuers: Vec<IssuerSetup>,
    settings: Settings,
    listener: TcpListener,
    updater: Option<InProcessUpdater>,
) -> Result<Running, ResponderError> {
    let resolved = resolve_issuers(&store, issuers).await?;
    let crate::wiring::Assembly {
        core,
        handler,
        live_permits,
    } = crate::wiring::assemble(store, resolved, settings);
    let addr = listener
        .local_addr()
        .map_err(|source| ResponderError::Listen {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
    // Listening first: `/health/live` answers, `/health/ready` says what
    // is still loading.
    let grace = core.settings().shutdown_grace;
    let mut tasks = Tasks::new(grace);
    tasks.spawn(serve(handler, grace, listener, tasks.stop_signal()));
    let presign = if core.table().is_some() {
        // Follow the feed from here; the table read checks each row
        // against the serial's revocation, whatever happened before.
        core.follow_from_now().await?;
        core.check_replica().await;
        core.probe_hsm().await;
        core.health().set_loaded();
        PresignReport::default()
    } else {
        // Ready once the statuses are in memory: a response not signed yet
        // is signed live (and cached) when asked for.
        core.load_statuses().await?;
        core.probe_hsm().await;
        core.health().set_loaded();
        if core.settings().presign_in_background {
            crate::core::spawn_presign(&core);
            PresignReport::default()
        } else {
            let presign = core.presign_all().await;
            if presign.total > 0 && presign.failed == presign.total {
                tracing::warn!("no response could be pre-signed: the HSM is unavailable; live requests get tryLater until it is back");
            }
            presign
        }
    };
    if let Some(u) = updater {
        let updater = Updater::following(
            u.primary,
            Arc::clone(core.issuer_list()),
            core.settings().clone(),
            u.settings,
        );
        let _ = core.metrics().updater.set(Arc::clone(&updater.stats));
        tasks.spawn(updater.run(tasks.stop_signal()));
    }
    tasks.spawn(run_background(Arc::clone(&core), tasks.stop_signal()));
    tasks.spawn(crate::core::keep_audit_memo(
        Arc::clone(&core),
        tasks.stop_signal(),
    ));
    tracing::info!(%addr, source = ?core.settings().source, "OCSP responder listening");
    Ok(Running {
        addr,
        core,
        live_permits,
        tasks,
        presign,
    })
}

impl Running {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The background side and its state, for in-process inspection
    /// (tools, tests) and reloads.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The permits live signatures take (`live_concurrency` in all), for
    /// in-process inspection.
    pub fn live_permits(&self) -> &Arc<Semaphore> {
        &self.live_permits
    }

    pub fn presign_report(&self) -> PresignReport {
        self.presign
    }

    /// Reloads the issuers from the configuration at `path` on SIGHUP and
    /// whenever it, or a responder certificate it names, changes (looked
    /// at every `poll`; `None`: SIGHUP only). Call it before reporting that the responder runs:
    /// the SIGHUP handler is in place when it returns.
    pub fn follow_config(
        &mut self,
        path: std::path::PathBuf,
        poll: Option<Duration>,
    ) -> Result<(), ResponderError> {
        let follow = crate::wiring::follow_config_for(
            Arc::clone(&self.core),
            path,
            poll,
            self.tasks.stop_signal(),
        )
        .map_err(|e| ResponderError::Background(format!("cannot handle SIGHUP: {e}")))?;
        self.tasks.spawn(follow);
        Ok(())
    }

    /// Stops accepting, lets open connections finish their current request
    /// (within `shutdown_grace`), stops the background tasks.
    pub async fn shutdown(self) {
        self.tasks.shutdown().await;
        tracing::info!("OCSP responder stopped");
    }
}

/// Longest wait for a connection's request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve(handler: Handler<Stack>, drain: Duration, listener: TcpListener, mut stop: Stop) {
    let handler = Arc::new(handler);
    let shutdown = async move { stop.stopped().await };
    accept_loop(listener, shutdown, drain, move |tcp, peer, stop| {
        let handler = Arc::clone(&handler);
        async move {
            let counted = Arc::clone(&handler);
            let svc = service_fn(move |mut req| {
                let handler = Arc::clone(&handler);
                async move {
                    let access = Access::begin(&mut req, peer);
                    let mut response = handler.handle(req).await;
                    access.finish(&mut response);
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let served = serve_http1(TokioIo::new(tcp), peer, svc, HEADER_TIMEOUT, stop).await;
            if let Err(e) = served {
                counted.connection_failed(&e);
            }
        }
    })
    .await;
}
