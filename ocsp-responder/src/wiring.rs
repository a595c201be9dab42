//! From a [`Config`] to running parts: store, HSM pool, signers.

use std::path::Path;
use std::sync::Arc;

use hsm::{Hsm, KeyLabel, PoolConfig, SessionPool, TokenLabel};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::ResponderError;
use crate::issuer::NoHsm;
use crate::server::{start_with, InProcessUpdater, IssuerSetup, Running};
use crate::updater::Updater;

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
    let primary = store::Store::open(&config.database).await?;
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
pub async fn run_updater_from_config(
    config: &Config,
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
    let primary = store::Store::open(&config.database).await?;
    let setups = issuer_setups(config, &primary).await?;
    let issuers = crate::server::resolve_issuers(&primary, setups).await?;
    let updater = Updater::new(primary, issuers, settings, config.updater.settings());
    updater.run(stop).await;
    Ok(())
}
