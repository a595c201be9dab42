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

/// The token directory of the SoftHSM configuration `SOFTHSM2_CONF` names
/// (`directories.tokendir`), when the variable is set and the file says.
pub fn token_dir_from_env() -> Option<PathBuf> {
    let conf = PathBuf::from(std::env::var_os(CONF_ENV)?);
    let text = std::fs::read_to_string(&conf).ok()?;
    text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "directories.tokendir").then(|| PathBuf::from(value.trim()))
    })
}

/// An exclusive lock, across processes, on one SoftHSM token directory:
/// `pki` commands take it for their whole run, so two of them never write
/// SoftHSM's files at once (each login rewrites `token.object`, not
/// atomically). Released when dropped (or when the process dies).
#[derive(Debug)]
pub struct TokenDirLock {
    _file: std::fs::File,
    path: PathBuf,
}

impl TokenDirLock {
    /// Takes the lock on `token_dir` (the lock file is `NAME.pki-lock`
    /// beside it), waiting for another holder; `on_wait` runs once if it
    /// has to wait.
    pub fn acquire(token_dir: &Path, on_wait: impl FnOnce(&Path)) -> Result<Self> {
        use rustix::fs::{flock, FlockOperation};
        let name = token_dir
            .file_name()
            .map_or_else(|| "tokens".into(), |n| n.to_string_lossy().into_owned());
        let path = token_dir.with_file_name(format!("{name}.pki-lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| HsmError::Io {
                path: path.clone(),
                source,
            })?;
        let io = |e: rustix::io::Errno| HsmError::Io {
            path: path.clone(),
            source: e.into(),
        };
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                on_wait(&path);
                flock(&file, FlockOperation::LockExclusive).map_err(io)?;
            }
            Err(e) => return Err(io(e)),
        }
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The token sub-directories of a SoftHSM token directory.
fn token_subdirs(token_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(token_dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `data` to `path` through a temporary file, fsynced, then renamed.
fn replace_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("pki-tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Before a login (which rewrites `token.object` in place), under
/// [`TokenDirLock`]: for each token, a `token.object` left empty or cut
/// short by an interrupted write (a `kill -9` during the rewrite) is
/// restored from the copy taken before the last login; a whole one is
/// copied to `token.object.bak` for next time. Returns what it repaired,
/// for the operator's log.
pub fn safeguard_tokens(token_dir: &Path) -> Result<Vec<String>> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| HsmError::Io { path, source }
    };
    let mut repaired = Vec::new();
    for sub in token_subdirs(token_dir).map_err(io(token_dir))? {
        let object = sub.join("token.object");
        let backup = sub.join("token.object.bak");
        let Ok(current) = std::fs::read(&object) else {
            continue;
        };
        let saved = std::fs::read(&backup).ok().filter(|b| !b.is_empty());
        match saved {
            Some(saved) if current.len() < saved.len() => {
                replace_file(&object, &saved).map_err(io(&object))?;
                repaired.push(format!(
                    "{}: token.object was {} of {} bytes (an interrupted write); restored from token.object.bak",
                    object.display(),
                    current.len(),
                    saved.len()
                ));
            }
            _ if current.is_empty() => {}
            _ => replace_file(&backup, &current).map_err(io(&backup))?,
        }
    }
    Ok(repaired)
}

/// Why the token labelled `label` is not found in a SoftHSM token
/// directory, said precisely: the directory is missing or unreadable, a
/// token's files are damaged, or which labels are there instead.
pub fn explain_missing(hsm: &Hsm, token_dir: &Path, label: &TokenLabel) -> HsmError {
    let err = |detail: String| HsmError::SoftHsmToken {
        label: label.clone(),
        dir: token_dir.to_owned(),
        detail,
    };
    let subs = match token_subdirs(token_dir) {
        Ok(s) => s,
        Err(e) => {
            return err(format!(
                "the token directory cannot be read ({e}); check directories.tokendir in {}",
                std::env::var(CONF_ENV).unwrap_or_else(|_| "softhsm2.conf".into())
            ))
        }
    };
    for sub in &subs {
        let object = sub.join("token.object");
        match std::fs::metadata(&object) {
            Ok(m) if m.len() == 0 => {
                return err(format!(
                    "{} is empty (a write was interrupted and no copy exists to restore it); restore the token directory from its backup (docs/operations.md)",
                    object.display()
                ))
            }
            Ok(_) => {}
            Err(e) => {
                return err(format!("{} cannot be read: {e}", object.display()));
            }
        }
    }
    let labels = token::labels(hsm.pkcs11())
        .map(|l| l.iter().map(ToString::to_string).collect::<Vec<_>>())
        .unwrap_or_default();
    err(if labels.is_empty() {
        format!(
            "no initialised token in the directory ({} token folders)",
            subs.len()
        )
    } else {
        format!(
            "no token with this label; tokens present: {}",
            labels.join(", ")
        )
    })
}
