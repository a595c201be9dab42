//! The PKCS#11 module: one `Pkcs11` context per process and module path,
//! initialised with OS locking, finalised when the last handle goes.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, Weak};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};

use crate::error::{rv, HsmError, Result};
use crate::token::{self, TokenLabel};

/// Environment variable naming the PKCS#11 module to load.
pub const MODULE_ENV: &str = "PKCS11_MODULE";
/// Module loaded when [`MODULE_ENV`] is not set: Debian's SoftHSM2.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A loaded and initialised PKCS#11 module. Cheap to clone; every clone and
/// every [`Hsm::open`] of the same path in this process share one context.
/// `C_Finalize` runs when the last clone (and every pool and signer built
/// from it) is dropped.
#[derive(Clone)]
pub struct Hsm {
    inner: Arc<Module>,
}

struct Module {
    path: PathBuf,
    pkcs11: Pkcs11,
    /// Initialisation generation. Every PKCS#11 call that uses sessions or
    /// object handles holds the read side; only [`Hsm::reinitialize`] takes
    /// the write side, so calls never wait on each other, only on a
    /// re-initialisation.
    generation: RwLock<u64>,
    /// Copy of `generation` for lock-free checks.
    generation_hint: AtomicU64,
    /// When the last re-initialisation ran, and how many in a row failed
    /// (each failure doubles the wait before the next, up to
    /// [`MAX_REINIT_BACKOFF`]).
    last_reinit: Mutex<Option<Instant>>,
    failed_reinits: AtomicU64,
}

/// The longest wait between two failing re-initialisations.
pub const MAX_REINIT_BACKOFF: Duration = Duration::from_secs(30);

/// Live modules by path, so a process never initialises one module twice.
struct Registry {
    modules: Mutex<HashMap<PathBuf, Weak<Module>>>,
    released: Condvar,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        modules: Mutex::new(HashMap::new()),
        released: Condvar::new(),
    })
}

fn initialize(pkcs11: &Pkcs11) -> std::result::Result<(), CkError> {
    // Without OS_LOCKING_OK, SoftHSM crashes under concurrent sessions.
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Err(err) if rv(&err) == Some(RvError::CryptokiAlreadyInitialized) => Ok(()),
        other => other,
    }
}

impl Hsm {
    /// Loads and initialises the module at `path`, or returns the context
    /// this process already has for it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let registry = registry();
        let mut modules = registry
            .modules
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            match modules.get(&path).map(Weak::upgrade) {
                Some(Some(inner)) => return Ok(Self { inner }),
                // The last handle is being dropped: wait for its C_Finalize
                // so our C_Initialize comes after it.
                Some(None) => {
                    modules = registry
                        .released
                        .wait(modules)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                None => break,
            }
        }
        let load_error = |source| HsmError::ModuleLoad {
            path: path.clone(),
            source,
        };
        let pkcs11 = Pkcs11::new(&path).map_err(load_error)?;
        initialize(&pkcs11).map_err(load_error)?;
        let inner = Arc::new(Module {
            path: path.clone(),
            pkcs11,
            generation: RwLock::new(0),
            generation_hint: AtomicU64::new(0),
            last_reinit: Mutex::new(None),
            failed_reinits: AtomicU64::new(0),
        });
        modules.insert(path, Arc::downgrade(&inner));
        Ok(Self { inner })
    }

    /// Opens the module named by `PKCS11_MODULE`, or [`DEFAULT_MODULE`].
    pub fn from_env() -> Result<Self> {
        Self::open(module_path_from_env())
    }

    /// Whether this process has the module at `path` loaded.
    pub(crate) fn is_loaded(path: &Path) -> bool {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        registry()
            .modules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&path)
            .is_some_and(|weak| weak.strong_count() > 0)
    }

    /// Path of the loaded module.
    pub fn module_path(&self) -> &Path {
        &self.inner.path
    }

    /// Labels of every initialised token the module shows.
    pub fn token_labels(&self) -> Result<Vec<TokenLabel>> {
        let _live = self.read();
        token::labels(&self.inner.pkcs11)
    }

    /// The raw `cryptoki` context, for diagnostics and for benches that
    /// compare against raw PKCS#11 calls. Sessions opened through it are the
    /// caller's business; [`Hsm::reinitialize`] invalidates them.
    pub fn pkcs11(&self) -> &Pkcs11 {
        &self.inner.pkcs11
    }

    /// `C_Finalize` then `C_Initialize`: what it takes for SoftHSM to see a
    /// token directory that disappeared and came back, and the last resort
    /// after a module failure. Every session of every pool on this module
    /// becomes stale; pools notice and open new ones. Waits for calls in
    /// flight to finish.
    pub fn reinitialize(&self) -> Result<()> {
        let seen = self.generation();
        self.reinitialize_from(seen, Duration::ZERO).map(|_| ())
    }

    /// Re-initialises unless someone already did since generation `seen`,
    /// or did less than `min_interval` ago (doubled for each failed
    /// re-initialisation in a row, up to [`MAX_REINIT_BACKOFF`]). Returns
    /// whether it ran. A failed `C_Initialize` leaves the module to be
    /// initialised again by the next attempt.
    pub(crate) fn reinitialize_from(&self, seen: u64, min_interval: Duration) -> Result<bool> {
        let mut generation = self
            .inner
            .generation
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if *generation != seen {
            return Ok(false);
        }
        let mut last = self
            .inner
            .last_reinit
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let failures = self.inner.failed_reinits.load(Ordering::Acquire);
        let wait = min_interval
            .saturating_mul(1 << failures.min(16))
            .min(MAX_REINIT_BACKOFF.max(min_interval));
        if last.is_some_and(|at| at.elapsed() < wait) {
            return Ok(false);
        }
        tracing::warn!(module = %self.inner.path.display(), "re-initialising PKCS#11 module");
        let pkcs11 = &self.inner.pkcs11;
        if let Err(err) = pkcs11.clone().finalize() {
            if rv(&err) != Some(RvError::CryptokiNotInitialized) {
                tracing::warn!(error = %err, "C_Finalize failed");
            }
        }
        *generation += 1;
        self.inner
            .generation_hint
            .store(*generation, Ordering::Release);
        *last = Some(Instant::now());
        if let Err(source) = initialize(pkcs11) {
            let n = self.inner.failed_reinits.fetch_add(1, Ordering::AcqRel) + 1;
            tracing::warn!(error = %source, failures = n, "C_Initialize failed; will try again");
            return Err(HsmError::ModuleLoad {
                path: self.inner.path.clone(),
                source,
            });
        }
        self.inner.failed_reinits.store(0, Ordering::Release);
        Ok(true)
    }

    /// Holds off re-initialisation while a PKCS#11 call runs; the value is
    /// the current generation.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, u64> {
        self.inner
            .generation
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The current generation, without locking (may be stale by the time
    /// it is used; check again under [`Hsm::read`]).
    pub(crate) fn generation(&self) -> u64 {
        self.inner.generation_hint.load(Ordering::Acquire)
    }
}

/// `PKCS11_MODULE`, or [`DEFAULT_MODULE`].
pub fn module_path_from_env() -> PathBuf {
    std::env::var_os(MODULE_ENV).map_or_else(|| PathBuf::from(DEFAULT_MODULE), PathBuf::from)
}

impl Drop for Module {
    fn drop(&mut self) {
        let registry = registry();
        let mut modules = registry
            .modules
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if modules
            .get(&self.path)
            .is_some_and(|weak| std::ptr::eq(weak.as_ptr(), self))
        {
            modules.remove(&self.path);
        }
        // Finalise while holding the registry lock: a concurrent `open` of
        // the same path waits for it.
        if let Err(err) = self.pkcs11.clone().finalize() {
            if rv(&err) != Some(RvError::CryptokiNotInitialized) {
                tracing::warn!(module = %self.path.display(), error = %err, "C_Finalize failed");
            }
        }
        drop(modules);
        registry.released.notify_all();
    }
}

impl fmt::Debug for Hsm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hsm")
            .field("module", &self.inner.path)
            .field("generation", &self.generation())
            .finish()
    }
}
