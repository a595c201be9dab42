//! The CA keys in the HSM: opening the token named by the config and
//! finding the signer of a stored CA.

use std::sync::OnceLock;

use hsm::softhsm::TokenDirLock;
use hsm::{Hsm, HsmError, HsmSigner, KeyInfo, KeyLabel, PoolConfig, SessionPool};
use pki_core::Cert;

use crate::config::HsmSettings;
use crate::error::{CliError, Result};

/// The SoftHSM token-directory lock this process holds, once taken: until
/// the process ends (a `pki` process runs one command).
static HELD: OnceLock<TokenDirLock> = OnceLock::new();

/// Loads the module and logs in to the token (one session: the CLI signs
/// one thing at a time).
///
/// On SoftHSM (`SOFTHSM2_CONF` set), first takes the token directory's
/// lock, so concurrent `pki` commands wait for each other instead of
/// reading files another one is rewriting, and restores a `token.object`
/// that an interrupted run left empty or cut short (see
/// [`hsm::softhsm::safeguard_tokens`]). A token that still cannot be found
/// is explained: which directory, what is wrong.
pub fn open(settings: &HsmSettings) -> Result<SessionPool> {
    open_with_pin(settings, settings.pin.read()?)
}

/// [`open`] with a PIN obtained otherwise than from `settings.pin` (rebuilt
/// from officers' shares, see [`crate::officer::quorum`]).
pub fn open_with_pin(settings: &HsmSettings, pin: hsm::Pin) -> Result<SessionPool> {
    let token_dir = hsm::softhsm::token_dir_from_env();
    if let (Some(dir), None) = (&token_dir, HELD.get()) {
        let lock = TokenDirLock::acquire(dir, |lock| {
            eprintln!(
                "pki: waiting for another pki command using the SoftHSM tokens in {} (lock {})",
                dir.display(),
                lock.display()
            );
        })?;
        for repaired in hsm::softhsm::safeguard_tokens(dir)? {
            eprintln!("pki: {repaired}");
        }
        let _ = HELD.set(lock);
    }
    let hsm = Hsm::open(&settings.module)?;
    let config = PoolConfig {
        size: 1,
        ..PoolConfig::default()
    };
    match SessionPool::new(&hsm, settings.token.clone(), pin, config) {
        Ok(pool) => Ok(pool),
        Err(HsmError::TokenNotFound { label }) => match &token_dir {
            Some(dir) => Err(hsm::softhsm::explain_missing(&hsm, dir, &label).into()),
            None => Err(HsmError::TokenNotFound { label }.into()),
        },
        Err(e) => Err(e.into()),
    }
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
