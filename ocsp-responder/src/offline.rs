//! Offline signing (`pki presign`): the responder's configuration, store
//! and HSM keys, no server. Runs the updater ([`crate::updater`]) until
//! every issued or revoked serial of every configured issuer has a current
//! response in the store's response table for every configured CertID
//! hash, so responders in table mode serve them at once.
//!
//! It takes the updater lease for the run: while an updater is signing,
//! `pki presign` says so and leaves the work to it.

use std::sync::Arc;

use crate::config::Config;
use crate::error::ResponderError;
use crate::server::resolve_issuers;
use crate::updater::{Updater, UpdaterStats, LEASE};
use crate::wiring::issuer_setups;

/// The updater, ready for one run.
#[derive(Debug)]
pub struct Presigner {
    updater: Updater,
}

/// What [`Presigner::run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresignSummary {
    /// Responses signed and written to the table.
    pub written: u64,
    /// Responses that could not be signed.
    pub failed: u64,
}

impl Presigner {
    /// Opens the store and the HSM named by `config`, and checks that the
    /// audit log vouches for every issuer's rows (an error names the first
    /// row that does not hold).
    pub async fn open(config: &Config) -> Result<Self, ResponderError> {
        let settings = config
            .settings()
            .map_err(|reason| ResponderError::ConfigInvalid {
                path: "(config)".into(),
                reason,
            })?;
        let store = store::Store::open_existing(&config.database).await?;
        let setups = issuer_setups(config, &store).await?;
        let issuers = resolve_issuers(&store, setups).await?;
        let mut updater = Updater::new(store, issuers, settings, config.updater.settings());
        updater.require_vouched().await?;
        Ok(Self { updater })
    }

    /// The updater's counters (for a progress display).
    pub fn stats(&self) -> Arc<UpdaterStats> {
        Arc::clone(&self.updater.stats)
    }

    /// Signs rounds until one finds nothing left to sign (or fails to
    /// sign), calling `progress(n)` after each batch round with the
    /// responses it wrote. Refuses while another updater holds the lease.
    pub async fn run(
        &mut self,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<PresignSummary, ResponderError> {
        if !self.updater.hold_lease().await? {
            return Err(ResponderError::UpdaterRunning { lease: LEASE });
        }
        let mut summary = PresignSummary {
            written: 0,
            failed: 0,
        };
        let result = loop {
            match self.updater.round().await {
                Ok(round) => {
                    summary.written += round.total();
                    summary.failed += round.failed;
                    progress(round.total());
                    if round.total() == 0 || round.failed > 0 {
                        break Ok(summary);
                    }
                    if !self.updater.hold_lease().await? {
                        break Err(ResponderError::UpdaterRunning { lease: LEASE });
                    }
                }
                Err(e) => break Err(e),
            }
        };
        self.updater.release().await;
        result
    }
}
