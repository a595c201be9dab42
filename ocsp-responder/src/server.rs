//! Starting, serving and stopping a responder.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use pki_core::ocsp::{IssuerHashes, ResponderIdentity};
use pki_core::Signer;
use store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Settings;
use crate::core::{run_background, Core, PresignReport};
use crate::error::ResponderError;
use crate::issuer::Issuer;
use crate::source;

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
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    presign: PresignReport,
    grace: Duration,
}

/// Finds each issuer's CA in the store and checks its signing identity.
pub async fn resolve_issuers(
    store: &Store,
    issuers: Vec<IssuerSetup>,
) -> Result<Vec<Arc<Issuer>>, ResponderError> {
    let mut resolved = Vec::with_capacity(issuers.len());
    for (index, setup) in issuers.into_iter().enumerate() {
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
        resolved.push(Arc::new(Issuer {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            name: ca.name,
            ca: ca.id,
            hashes,
            identity,
            signer: setup.signer,
        }));
    }
    Ok(resolved)
}

/// Resolves the issuers in the store, loads every status, pre-signs, then
/// serves on `listener` until [`Running::shutdown`].
pub async fn start(
    store: Store,
    issuers: Vec<IssuerSetup>,
    settings: Settings,
    listener: TcpListener,
) -> Result<Running, ResponderError> {
    let resolved = resolve_issuers(&store, issuers).await?;
    let core = Arc::new(Core::new(store, resolved, settings));
    core.load_statuses().await?;
    let presign = core.presign_all().await;
    if presign.total > 0 && presign.failed == presign.total {
        tracing::warn!("no response could be pre-signed: the HSM is unavailable; live requests get tryLater until it is back");
    }
    core.health.cache_loaded.store(true, Ordering::Release);
    if presign.total == 0 {
        // Nothing signed yet: check the signer once.
        core.probe_hsm().await;
    }
    let addr = listener
        .local_addr()
        .map_err(|source| ResponderError::Listen {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
    let (shutdown, rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(run_background(Arc::clone(&core), rx.clone()));
    tasks.spawn(serve(Arc::clone(&core), listener, rx));
    tracing::info!(%addr, "OCSP responder listening");
    Ok(Running {
        addr,
        core,
        shutdown,
        tasks,
        presign,
        grace: Duration::from_secs(10),
    })
}

impl Running {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state, for in-process inspection (tools, tests).
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    pub fn presign_report(&self) -> PresignReport {
        self.presign
    }

    /// How long open connections get to finish on shutdown.
    pub fn set_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// Stops accepting, lets open connections finish their current request
    /// (bounded by the grace period), stops the background tasks.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let grace = self.grace;
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("connections still open after the grace period; closing them");
            self.tasks.abort_all();
        }
        tracing::info!("OCSP responder stopped");
    }
}

async fn serve(core: Arc<Core>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let source = Arc::new(source::standard(&core));
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let core = Arc::clone(&core);
        let source = Arc::clone(&source);
        let mut stop = shutdown.clone();
        conns.spawn(async move {
            let counted = Arc::clone(&core);
            let svc = service_fn(move |req| {
                let core = Arc::clone(&core);
                let source = Arc::clone(&source);
                async move {
                    Ok::<_, std::convert::Infallible>(
                        crate::http::handle(&core, source.as_ref(), req).await,
                    )
                }
            });
            let conn = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .keep_alive(true)
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        crate::http::connection_failed(&counted, &e);
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // Reap finished connections so the set stays small.
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}
