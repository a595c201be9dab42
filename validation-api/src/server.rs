//! Starting and stopping the service as the binary runs it: the listener,
//! the HTTP or HTTPS server and the background tasks (config file watcher,
//! SIGHUP reload, CRL refresher, OCSP fetcher), stopped together.
//! Mirrors `ocsp_responder::start_from_config`.

use std::net::SocketAddr;
use std::sync::Arc;

use service_kit::Tasks;
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError};
use crate::service::Service;
use crate::tls::TlsError;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("building the service panicked: {0}")]
    SetupPanicked(String),
}

/// A running service: listening, answering, reloading, refreshing.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    svc: Arc<Service>,
    tasks: Tasks,
}

/// Builds the service of `config` (taken whole: its CRLs are handed to the
/// service, not copied), listens on `config.listen` and starts it.
pub async fn start_from_config(config: Config) -> Result<Running, StartError> {
    let listen = config.listen;
    // Verifying the configured CRLs can take a while: off the async workers.
    let svc = tokio::task::spawn_blocking(move || Service::new(config))
        .await
        .map_err(|e| StartError::SetupPanicked(e.to_string()))??;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: listen,
            source,
        })?;
    start(Arc::new(svc), listener)
}

/// Serves `svc` on `listener` (HTTPS when its config has `[tls]`) and
/// starts the background tasks.
pub fn start(svc: Arc<Service>, listener: TcpListener) -> Result<Running, StartError> {
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    let tls = {
        let snap = svc.snapshot();
        snap.config
            .tls
            .as_ref()
            .map(|t| crate::tls::server_config(&snap.config, t))
            .transpose()?
    };
    let mut tasks = Tasks::new(crate::http::DRAIN);
    tasks.spawn_until_stopped(crate::reload::watch_file(svc.clone()));
    let s = svc.clone();
    tasks.spawn_until_stopped(async move {
        if let Err(e) = crate::reload::on_sighup(s).await {
            tracing::warn!("cannot watch for SIGHUP: {e}");
        }
    });
    tasks.spawn_until_stopped(crate::refresh::Refresher::new(svc.clone()).run());
    tasks.spawn_until_stopped(crate::ocsp::Fetcher::new(svc.clone()).run());
    let mut stop = tasks.stop_signal();
    let shutdown = async move { stop.stopped().await };
    let s = svc.clone();
    tasks.spawn(async move {
        let served = match tls {
            Some(t) => crate::tls::serve(listener, s, t, shutdown).await,
            None => crate::http::serve(listener, s, shutdown).await,
        };
        if let Err(e) = served {
            tracing::error!("server stopped: {e}");
        }
    });
    tracing::info!("listening on {addr}");
    Ok(Running { addr, svc, tasks })
}

impl Running {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service, for in-process inspection (tests, tools).
    pub fn service(&self) -> &Arc<Service> {
        &self.svc
    }

    /// Stops accepting, lets requests in flight finish (at most
    /// [`crate::http::DRAIN`]), stops the background tasks.
    pub async fn shutdown(self) {
        self.tasks.shutdown().await;
        tracing::info!("validation-api stopped");
    }
}
