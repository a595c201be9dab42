//! Offline pre-signing (`pki presign`): the responder's configuration, store
//! and HSM key, no server. Every known serial of every configured issuer is
//! signed for every configured CertID hash and written as
//! `OUT/<ca>/<hash>/<SERIAL>.der` (serial in upper-case hex), ready for a
//! CDN or a cache in front of the responder. How a file is written
//! (atomically, in `pki presign`) is the caller's: the presigner only
//! signs and names.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pki_core::ocsp::HashAlgorithm;

use crate::config::Config;
use crate::core::Core;
use crate::error::ResponderError;
use crate::issuer::Signing;
use crate::server::resolve_issuers;
use crate::wiring::issuer_setups;

/// Statuses loaded, responses not yet signed.
#[derive(Debug)]
pub struct Presigner {
    core: Arc<Core>,
    jobs: Vec<(u32, HashAlgorithm, Box<[u8]>)>,
}

/// What [`Presigner::write_all`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresignSummary {
    pub written: u64,
    pub failed: u64,
}

/// Why one response could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PresignError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("signing failed: {0}")]
    Sign(#[from] pki_core::ocsp::ResponseError),
}

impl Presigner {
    /// Opens the store and the HSM named by `config` and loads every status.
    pub async fn open(config: &Config) -> Result<Self, ResponderError> {
        let settings = config
            .settings()
            .map_err(|reason| ResponderError::ConfigInvalid {
                path: "(config)".into(),
                reason,
            })?;
        let store = store::Store::open(&config.database).await?;
        let setups = issuer_setups(config, &store).await?;
        let issuers = resolve_issuers(&store, setups).await?;
        let core = Arc::new(Core::new(store, issuers, settings));
        core.load_statuses().await?;
        let mut jobs = Vec::new();
        for (issuer, serial, _) in core.statuses.entries() {
            for hash in &core.settings.presign_hashes {
                jobs.push((issuer, *hash, serial.clone()));
            }
        }
        jobs.sort();
        Ok(Self { core, jobs })
    }

    /// Responses to sign.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Signs every response on `presign_threads` threads and hands each to
    /// `write(path, der)`, its directory under `out` created;
    /// `progress(1)` is called after each (blocking). Stops at the first
    /// write error; signing errors are counted (and the first returned when
    /// nothing could be signed).
    pub fn write_all(
        &self,
        out: &Path,
        write: &(dyn Fn(&Path, &[u8]) -> std::io::Result<()> + Sync),
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<PresignSummary, PresignError> {
        let written = AtomicU64::new(0);
        let failed = AtomicU64::new(0);
        let first_error: std::sync::Mutex<Option<PresignError>> = std::sync::Mutex::new(None);
        let threads = self.core.settings.presign_threads.max(1);
        let chunk = self.jobs.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for part in self.jobs.chunks(chunk) {
                let (written, failed, first_error) = (&written, &failed, &first_error);
                scope.spawn(move || {
                    for (idx, hash, serial) in part {
                        let result = self.write_one(out, write, *idx, *hash, serial);
                        match result {
                            Ok(()) => {
                                written.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                let fatal = matches!(e, PresignError::Write { .. });
                                failed.fetch_add(1, Ordering::Relaxed);
                                let mut slot = first_error
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                if slot.is_none() {
                                    *slot = Some(e);
                                }
                                if fatal {
                                    return;
                                }
                            }
                        }
                        progress(1);
                    }
                });
            }
        });
        let summary = PresignSummary {
            written: written.load(Ordering::Relaxed),
            failed: failed.load(Ordering::Relaxed),
        };
        let first = first_error
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match first {
            Some(e @ PresignError::Write { .. }) => Err(e),
            Some(e) if summary.written == 0 => Err(e),
            _ => Ok(summary),
        }
    }

    fn write_one(
        &self,
        out: &Path,
        write: &(dyn Fn(&Path, &[u8]) -> std::io::Result<()> + Sync),
        idx: u32,
        hash: HashAlgorithm,
        serial: &[u8],
    ) -> Result<(), PresignError> {
        let Some(issuer) = self.core.issuers.get(idx as usize) else {
            return Ok(());
        };
        let (status, extended_revoke) = match self.core.statuses.get(idx, serial) {
            Some(k) => (k.cert_status(), false),
            None => self.core.settings.unissued.status(),
        };
        let cert_id = issuer
            .hashes
            .cert_id(hash, serial)
            .map_err(|e| pki_core::ocsp::ResponseError::Encoding(cert_id_der_error(&e)))?;
        let ready = issuer.sign(&Signing {
            entries: &[(cert_id, status)],
            nonce: None,
            extended_revoke,
            validity: self.core.settings.validity,
            cacheable: true,
        })?;
        let dir = out.join(&issuer.name).join(hash.name());
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| PresignError::Write { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let hex: String = serial.iter().fold(String::new(), |mut s, b| {
            use std::fmt::Write as _;
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02X}");
            s
        });
        let path = dir.join(format!("{hex}.der"));
        write(&path, &ready.der).map_err(io(&path))
    }
}

fn cert_id_der_error(e: &pki_core::ocsp::CertIdError) -> der::Error {
    match e {
        pki_core::ocsp::CertIdError::Encoding(d) => *d,
        _ => der::ErrorKind::Value {
            tag: der::Tag::Integer,
        }
        .into(),
    }
}
