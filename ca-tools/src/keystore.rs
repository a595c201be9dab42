//! The CA keys in the HSM: opening the token named by the config and
//! finding the signer of a stored CA.

use hsm::{Hsm, HsmError, HsmSigner, KeyInfo, KeyLabel, PoolConfig, SessionPool};
use pki_core::Cert;

use crate::config::HsmSettings;
use crate::error::{CliError, Result};

/// Loads the module and logs in to the token (one session: the CLI signs
/// one thing at a time).
pub fn open(settings: &HsmSettings) -> Result<SessionPool> {
    let hsm = Hsm::open(&settings.module)?;
    let pin = settings.pin.read()?;
    let config = PoolConfig {
        size: 1,
        ..PoolConfig::default()
    };
    Ok(SessionPool::new(&hsm, settings.token.clone(), pin, config)?)
}

/// Whether any key pair on the token carries `label`.
pub fn key_exists(pool: &SessionPool, label: &KeyLabel) -> Result<bool> {
    match pool.find_key(label) {
        Ok(_) | Err(HsmError::KeyLabelAmbiguous { .. }) => Ok(true),
        Err(HsmError::KeyNotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A stored CA's certificate, decoded.
pub fn ca_certificate(ca: &store::Ca) -> Result<Cert> {
    Cert::from_der(&ca.cert_der).map_err(|source| CliError::BadCaCertificate {
        ca: ca.name.clone(),
        source,
    })
}

/// The signer of CA `ca`: its key on the token, checked against the public
/// key of its certificate.
pub fn ca_signer(pool: &SessionPool, ca: &store::Ca, cert: &Cert) -> Result<HsmSigner> {
    let label = KeyLabel::new(ca.key_label.clone())?;
    let key: KeyInfo = pool.find_key(&label)?;
    if der::Encode::to_der(&key.spki).ok().as_deref() != Some(cert.spki_der()) {
        return Err(CliError::KeyMismatch {
            ca: ca.name.clone(),
            label: ca.key_label.clone(),
        });
    }
    Ok(pool.signer(key)?)
}
