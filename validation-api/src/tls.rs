//! HTTPS with rustls, and mutual TLS: with `[tls] client_tier`, clients
//! may present a certificate chaining to that tier's anchors (checked by
//! rustls' WebPKI client verifier, clientAuth); the SHA-256 of the
//! certificate identifies the client (`cert_sha256` in `[[auth.clients]]`).
//! Clients without a certificate can still use bearer tokens.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::{Config, TlsConfig};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("client tier {tier:?}: anchor {subject}: {reason}")]
    Anchor {
        tier: String,
        subject: String,
        reason: String,
    },
    #[error("client certificate verifier: {0}")]
    Verifier(String),
    #[error("server certificate or key: {0}")]
    Server(String),
}

/// The SHA-256 of the client certificate of a mutual-TLS connection,
/// added to each request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCert(pub [u8; 32]);

/// The rustls server configuration of `config` (HTTP/1.1 only).
pub fn server_config(config: &Config, tls: &TlsConfig) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Server(e.to_string()))?;
    let builder = match &tls.client_tier {
        Some(name) => {
            let mut roots = RootCertStore::empty();
            for tier in config.tiers.iter().filter(|t| &t.name == name) {
                for a in &tier.anchors {
                    roots
                        .add(CertificateDer::from(a.der().to_vec()))
                        .map_err(|e| TlsError::Anchor {
                            tier: name.clone(),
                            subject: a.subject_string(),
                            reason: e.to_string(),
                        })?;
                }
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let chain = tls
        .chain
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tls.key.clone()));
    let mut cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Server(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Serves `svc` over TLS on `listener` until `shutdown` completes, then
/// drains like [`crate::http::serve`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    svc: Arc<crate::Service>,
    tls: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = svc.snapshot().config.header_timeout;
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let router = crate::http::router(svc);
    service_kit::accept_loop(
        listener,
        shutdown,
        crate::http::DRAIN,
        move |tcp, peer, stop| {
            let acceptor = acceptor.clone();
            let router = router.clone();
            async move {
                // The handshake shares the header deadline.
                let stream = match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!("TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => return,
                };
                let peer_cert = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| PeerCert(pki_core::cert::sha256(c)));
                crate::http::serve_connection(
                    hyper_util::rt::TokioIo::new(stream),
                    peer,
                    router,
                    peer_cert,
                    header_timeout,
                    stop,
                )
                .await;
            }
        },
    )
    .await;
    Ok(())
}
