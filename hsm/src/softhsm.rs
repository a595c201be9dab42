//! SoftHSM2 for tests and the demo: a configuration and token directory in
//! a directory the caller owns, and token initialisation.
//!
//! SoftHSM reads `SOFTHSM2_CONF` when the module initialises, and the
//! variable is process-wide: a process uses one SoftHSM directory at a time
//! and keeps several tokens in it, told apart by label. Tests make one
//! directory per test binary (or per test under nextest) and one token per
//! test.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use cryptoki::session::UserType;

use crate::error::{ck, HsmError, Result};
use crate::module::{module_path_from_env, Hsm};
use crate::pin::Pin;
use crate::token::{self, TokenLabel};

/// Environment variable SoftHSM2 reads its configuration path from.
pub const CONF_ENV: &str = "SOFTHSM2_CONF";

/// The SoftHSM directory this process pointed `SOFTHSM2_CONF` at.
static ACTIVE_CONF: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Serialises token initialisation: two threads must not pick the same free
/// slot (`C_InitToken` on an initialised token re-initialises it).
static INIT_TOKEN: Mutex<()> = Mutex::new(());

/// A SoftHSM2 installation living in one directory:
/// `softhsm2.conf` and `tokens/`.
#[derive(Debug)]
pub struct SoftHsm {
    conf: PathBuf,
    tokens: PathBuf,
    hsm: Hsm,
}

impl SoftHsm {
    /// Uses `dir` (created if missing) for SoftHSM with the module named by
    /// `PKCS11_MODULE` (default `/usr/lib/softhsm/libsofthsm2.so`). See
    /// [`SoftHsm::open_with_module`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_module(dir, module_path_from_env())
    }

    /// Writes `dir/softhsm2.conf` with token directory `dir/tokens` (an
    /// existing config is kept, so a demo directory survives restarts),
    /// points `SOFTHSM2_CONF` at it for this process and loads `module`.
    ///
    /// Fails with [`HsmError::SoftHsmConfInUse`] if this process already
    /// has the module initialised on another configuration.
    pub fn open_with_module(dir: impl AsRef<Path>, module: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| HsmError::Io { path, source }
        };
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).map_err(io(&tokens))?;
        let tokens = tokens.canonicalize().map_err(io(&tokens))?;
        let conf = tokens.with_file_name("softhsm2.conf");
        if !conf.exists() {
            let text = format!(
                "# Written by hsm::softhsm for this directory only.\n\
                 directories.tokendir = {}\n\
                 objectstore.backend = file\n\
                 log.level = ERROR\n\
                 slots.removable = false\n",
                tokens.display()
            );
            std::fs::write(&conf, text).map_err(io(&conf))?;
        }
        let mut active = ACTIVE_CONF.lock().unwrap_or_else(PoisonError::into_inner);
        let current = std::env::var_os(CONF_ENV).map(PathBuf::from);
        if current.as_deref() != Some(conf.as_path()) {
            if let Some(current) = current.filter(|_| Hsm::is_loaded(module.as_ref())) {
                return Err(HsmError::SoftHsmConfInUse { current });
            }
            // Edition 2021: `set_var` is safe to call. We hold ACTIVE_CONF
            // and SoftHSM is not initialised, so nothing reads it now.
            std::env::set_var(CONF_ENV, &conf);
        }
        *active = Some(conf.clone());
        let hsm = Hsm::open(module)?;
        drop(active);
        Ok(Self { conf, tokens, hsm })
    }

    /// Initialises a new token labelled `label` in the free slot and sets
    /// its user PIN. Refuses a label already in use.
    pub fn init_token(&self, label: &TokenLabel, so_pin: &Pin, user_pin: &Pin) -> Result<()> {
        let _one_at_a_time = INIT_TOKEN.lock().unwrap_or_else(PoisonError::into_inner);
        let _live = self.hsm.read();
        let pkcs11 = self.hsm.pkcs11();
        if token::labels(pkcs11)?.contains(label) {
            return Err(HsmError::TokenLabelExists {
                label: label.clone(),
            });
        }
        let free = pkcs11
            .get_slots_with_token()
            .map_err(ck("C_GetSlotList"))?
            .into_iter()
            .find(|slot| {
                pkcs11
                    .get_token_info(*slot)
                    .is_ok_and(|info| !info.token_initialized())
            })
            .ok_or(HsmError::NoFreeSlot)?;
        let so = so_pin.auth();
        pkcs11
            .init_token(free, &so, label.as_str())
            .map_err(ck("C_InitToken"))?;
        let session = pkcs11.open_rw_session(free).map_err(ck("C_OpenSession"))?;
        session
            .login(UserType::So, Some(&so))
            .map_err(ck("C_Login"))?;
        session
            .init_pin(&user_pin.auth())
            .map_err(ck("C_InitPIN"))?;
        session.logout().map_err(ck("C_Logout"))?;
        Ok(())
    }

    pub fn hsm(&self) -> &Hsm {
        &self.hsm
    }

    /// The directory SoftHSM keeps tokens in (one sub-directory per token).
    pub fn token_dir(&self) -> &Path {
        &self.tokens
    }

    /// The `softhsm2.conf` this process uses.
    pub fn conf_path(&self) -> &Path {
        &self.conf
    }
}
