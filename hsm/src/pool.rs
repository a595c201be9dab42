//! A pool of logged-in sessions on one token.
//!
//! PKCS#11 sessions are `Send` but not `Sync`: one session serves one thread
//! at a time. The pool keeps idle sessions in a lock-free queue; a signer
//! takes one, runs one `C_Sign`, and puts it back, so threads never wait on
//! each other. Sessions are opened on demand when none is idle, and at
//! most `size` are kept.
//!
//! Failures are sorted by what they mean (see [`Failure`]): a dead session
//! is thrown away and the call retried on another; stale object handles or
//! a lost login are repaired in place; a lost token or module makes the
//! call fail with [`HsmError::SessionLost`] and the next call reconnects,
//! re-initialising the module if the token cannot be found any more (what
//! SoftHSM needs after its token directory disappears).

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use cryptoki::error::RvError;
use cryptoki::object::{ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;

use crate::error::{ck, rv, Failure, HsmError, Result};
use crate::key::{self, KeyId, KeyInfo, KeyLabel, KeyProtection, KeyType};
use crate::module::Hsm;
use crate::pin::Pin;
use crate::signer::{HsmSigner, SignatureAlgorithm};
use crate::token::{self, TokenLabel};

/// Sizing and recovery settings of a [`SessionPool`].
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Idle sessions kept (and opened up front): one per worker thread.
    pub size: usize,
    /// Least time between two module re-initialisations triggered by a
    /// token that disappeared.
    pub reinit_backoff: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            size: std::thread::available_parallelism().map_or(2, NonZeroUsize::get),
            reinit_backoff: Duration::from_secs(1),
        }
    }
}

/// Logged-in sessions on one token, shared by every signer of that token.
/// Cheap to clone.
#[derive(Clone)]
pub struct SessionPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    hsm: Hsm,
    token: TokenLabel,
    pin: Pin,
    config: PoolConfig,
    idle: ArrayQueue<PooledSession>,
    /// Bumped when the token is lost: sessions from an older epoch are
    /// abandoned instead of reused.
    epoch: AtomicU64,
    /// Slow path only: where the token is, and opening sessions.
    connection: Mutex<Connection>,
    /// Sessions of this pool open now, idle or lent (see [`OpenCount`]).
    open: Arc<AtomicUsize>,
}

#[derive(Debug, Default)]
struct Connection {
    /// Slot of the token, valid for module generation `generation`.
    slot: Option<Slot>,
    generation: u64,
}

struct PooledSession {
    session: Session,
    slot: Slot,
    /// Module generation the session was opened in.
    generation: u64,
    epoch: u64,
    /// Private key handles found on this session.
    keys: HashMap<KeyId, ObjectHandle>,
    _open: OpenCount,
}

/// One session counted in [`PoolInner::open`] until it is closed or
/// abandoned (dropped with its [`PooledSession`]).
struct OpenCount(Arc<AtomicUsize>);

impl OpenCount {
    fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(open))
    }
}

impl Drop for OpenCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One pooled session lent to an operation.
pub(crate) struct Lease<'a> {
    pooled: &'a mut PooledSession,
    pool: &'a PoolInner,
}

impl SessionPool {
    /// Finds the token by label, opens `config.size` sessions and logs in.
    /// Fails with [`HsmError::TokenNotFound`] or [`HsmError::WrongPin`]
    /// right away rather than on the first signature.
    pub fn new(hsm: &Hsm, token: TokenLabel, pin: Pin, config: PoolConfig) -> Result<Self> {
        let size = config.size.max(1);
        let inner = Arc::new(PoolInner {
            hsm: hsm.clone(),
            token,
            pin,
            idle: ArrayQueue::new(size),
            config: PoolConfig { size, ..config },
            epoch: AtomicU64::new(0),
            connection: Mutex::new(Connection::default()),
            open: Arc::new(AtomicUsize::new(0)),
        });
        for _ in 0..size {
            let session = inner.open_session(false)?;
            let live = inner.hsm.read();
            inner.check_in(session, *live);
        }
        Ok(Self { inner })
    }

    pub fn token(&self) -> &TokenLabel {
        &self.inner.token
    }

    pub fn hsm(&self) -> &Hsm {
        &self.inner.hsm
    }

    /// Sessions this pool has open on the token now, idle or in use: at
    /// most `size` once a burst is over (extra sessions opened for it are
    /// closed as they come back).
    pub fn open_sessions(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// Generates a key pair inside the token: private key sensitive, not
    /// extractable, a token object; both halves labelled `label` and with
    /// `CKA_ID` = the SubjectKeyIdentifier of the public key. Refuses a
    /// label that any object on the token already has.
    pub fn generate_key(&self, label: &KeyLabel, key_type: KeyType) -> Result<KeyInfo> {
        self.with_session(|lease| lease.generate_key(label, key_type))
    }

    /// The key pair whose private key is labelled `label`.
    pub fn find_key(&self, label: &KeyLabel) -> Result<KeyInfo> {
        self.with_session(|lease| {
            let session = lease.session();
            let found = key::private_keys_by_label(session, label)?;
            match found.as_slice() {
                [] => Err(HsmError::KeyNotFound {
                    token: lease.pool.token.clone(),
                    key: format!("labelled {label:?}"),
                }),
                [private] => {
                    let (_, id) = key::label_and_id(session, *private)?;
                    lease.key_info(&id)
                }
                _ => Err(HsmError::KeyLabelAmbiguous {
                    token: lease.pool.token.clone(),
                    label: label.clone(),
                }),
            }
        })
    }

    /// The key pair with `CKA_ID = id`.
    pub fn find_key_by_id(&self, id: &KeyId) -> Result<KeyInfo> {
        self.with_session(|lease| lease.key_info(id))
    }

    /// What the token reports about the private key's protection, and
    /// whether its value can be read (it must not).
    pub fn key_protection(&self, key: &KeyInfo) -> Result<KeyProtection> {
        self.with_session(|lease| {
            let private = lease.private_key(&key.id)?;
            key::protection(lease.session(), private)
        })
    }

    /// A signer for `key` with the default algorithm of its type
    /// ([`SignatureAlgorithm::default_for`]).
    pub fn signer(&self, key: KeyInfo) -> Result<HsmSigner> {
        let algorithm = SignatureAlgorithm::default_for(key.key_type);
        HsmSigner::new(self.clone(), key, algorithm)
    }

    /// A signer for `key` with `algorithm`, which must fit the key type.
    pub fn signer_with(&self, key: KeyInfo, algorithm: SignatureAlgorithm) -> Result<HsmSigner> {
        HsmSigner::new(self.clone(), key, algorithm)
    }

    /// Runs `op` on a pooled session, handling session, login and token
    /// failures as described in the module docs. `op` may run twice.
    pub(crate) fn with_session<T>(
        &self,
        mut op: impl FnMut(&mut Lease<'_>) -> Result<T>,
    ) -> Result<T> {
        let pool = &*self.inner;
        // Every idle session may turn out stale; one more try opens a
        // fresh one.
        let mut last = None;
        for _ in 0..pool.config.size + 2 {
            let mut pooled = pool.check_out()?;
            let live = pool.hsm.read();
            if pooled.generation != *live || pooled.epoch != pool.epoch.load(Ordering::Acquire) {
                drop(live);
                abandon(pooled);
                continue;
            }
            let mut lease = Lease {
                pooled: &mut pooled,
                pool,
            };
            let result = match op(&mut lease) {
                Err(err) if failure(&err) == Failure::Handles => {
                    // Logged out behind our back, or handles from before a
                    // re-login: log in again, find the key again.
                    lease.pooled.keys.clear();
                    lease.login().and_then(|()| op(&mut lease))
                }
                other => other,
            };
            match result {
                Ok(value) => {
                    pool.check_in(pooled, *live);
                    return Ok(value);
                }
                Err(err) => match failure(&err) {
                    Failure::Session => {
                        // This handle is dead; the others may be too (all
                        // sessions closed): check them, then retry.
                        abandon(pooled);
                        drop(live);
                        pool.prune_idle();
                        last = Some(err);
                    }
                    Failure::Device => {
                        abandon(pooled);
                        drop(live);
                        pool.disconnect();
                        return Err(pool.lost(err));
                    }
                    Failure::Handles | Failure::Operation => {
                        pool.check_in(pooled, *live);
                        return Err(err);
                    }
                },
            }
        }
        Err(pool.lost(last.unwrap_or(HsmError::PoolExhausted {
            token: pool.token.clone(),
        })))
    }
}

/// Whether looking the token up failed in a way only a module
/// re-initialisation can mend.
fn needs_module_reinit(err: &HsmError) -> bool {
    match err {
        HsmError::TokenNotFound { .. } => true,
        HsmError::Pkcs11 { source, .. } => Failure::of(source) == Failure::Device,
        _ => false,
    }
}

/// The error for a refused `C_Login`: a wrong or locked PIN names the
/// token (never the PIN); anything else is the PKCS#11 failure.
fn login_refused(err: cryptoki::error::Error, token: &TokenLabel) -> HsmError {
    match rv(&err) {
        Some(RvError::PinIncorrect) => HsmError::WrongPin {
            label: token.clone(),
        },
        Some(RvError::PinLocked) => HsmError::PinLocked {
            label: token.clone(),
        },
        _ => HsmError::Pkcs11 {
            op: "C_Login",
            source: err,
        },
    }
}

/// How an error affects the session and the connection.
fn failure(err: &HsmError) -> Failure {
    match err {
        HsmError::Pkcs11 { source, .. } => Failure::of(source),
        HsmError::SessionLost { .. } | HsmError::TokenNotFound { .. } => Failure::Device,
        _ => Failure::Operation,
    }
}

/// Forgets a session without `C_CloseSession`: its handle is dead or
/// belongs to an earlier module initialisation, where the same number may
/// now name another live session.
fn abandon(pooled: PooledSession) {
    std::mem::forget(pooled.session);
}

impl PoolInner {
    fn check_out(&self) -> Result<PooledSession> {
        match self.idle.pop() {
            Some(pooled) => Ok(pooled),
            None => self.open_session(true),
        }
    }

    /// Returns a session to the idle queue; `generation` is the module
    /// generation read under the caller's read guard.
    fn check_in(&self, pooled: PooledSession, generation: u64) {
        if pooled.generation != generation || pooled.epoch != self.epoch.load(Ordering::Acquire) {
            abandon(pooled);
        } else if let Err(extra) = self.idle.push(pooled) {
            // More sessions than `size` were open during a burst: close
            // this one (still under the caller's read guard).
            drop(extra);
        }
    }

    /// Opens and logs in one session, locating the token first if needed.
    /// With `may_reinit`, a token that cannot be found triggers a module
    /// re-initialisation (at most once per `reinit_backoff`).
    fn open_session(&self, may_reinit: bool) -> Result<PooledSession> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut live = self.hsm.read();
        let pkcs11 = self.hsm.pkcs11();
        let slot = match connection.slot {
            Some(slot) if connection.generation == *live => slot,
            _ => match token::find_slot(pkcs11, &self.token) {
                Ok(slot) => slot,
                // The token is gone, or the module itself is (not
                // initialised after a failed re-initialisation, a general
                // error): finalize and initialize the module again, with
                // backoff, then look for the token by label (its slot id
                // may have changed).
                Err(err) if may_reinit && needs_module_reinit(&err) => {
                    let seen = *live;
                    drop(live);
                    self.hsm
                        .reinitialize_from(seen, self.config.reinit_backoff)?;
                    live = self.hsm.read();
                    token::find_slot(pkcs11, &self.token)?
                }
                Err(err) => return Err(err),
            },
        };
        connection.slot = Some(slot);
        connection.generation = *live;
        let session = match pkcs11.open_rw_session(slot) {
            Ok(session) => session,
            Err(err) => {
                return Err(match rv(&err) {
                    Some(RvError::SessionCount) => HsmError::PoolExhausted {
                        token: self.token.clone(),
                    },
                    _ if Failure::of(&err) == Failure::Device => {
                        connection.slot = None;
                        self.lost(HsmError::Pkcs11 {
                            op: "C_OpenSession",
                            source: err,
                        })
                    }
                    _ => HsmError::Pkcs11 {
                        op: "C_OpenSession",
                        source: err,
                    },
                })
            }
        };
        let mut pooled = PooledSession {
            session,
            slot,
            generation: *live,
            epoch: self.epoch.load(Ordering::Acquire),
            keys: HashMap::new(),
            _open: OpenCount::new(&self.open),
        };
        Lease {
            pooled: &mut pooled,
            pool: self,
        }
        .login()?;
        drop(live);
        Ok(pooled)
    }

    /// After a session was found dead: keep the idle sessions that still
    /// answer, forget the others.
    fn prune_idle(&self) {
        let live = self.hsm.read();
        let mut alive = Vec::new();
        while let Some(pooled) = self.idle.pop() {
            if pooled.generation == *live && pooled.session.get_session_info().is_ok() {
                alive.push(pooled);
            } else {
                abandon(pooled);
            }
        }
        for pooled in alive {
            self.check_in(pooled, *live);
        }
    }

    /// The token or module is gone: forget every session and look the
    /// token up again on the next call.
    fn disconnect(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .slot = None;
        while let Some(pooled) = self.idle.pop() {
            abandon(pooled);
        }
        tracing::warn!(token = %self.token, "lost the token; reconnecting on the next call");
    }

    /// The error to report for a lost session, token or module.
    fn lost(&self, err: HsmError) -> HsmError {
        match err {
            HsmError::Pkcs11 { source, .. } => HsmError::SessionLost {
                token: self.token.clone(),
                source,
            },
            other => other,
        }
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        let live = self.hsm.read();
        while let Some(pooled) = self.idle.pop() {
            if pooled.generation == *live {
                drop(pooled);
            } else {
                abandon(pooled);
            }
        }
    }
}

impl Lease<'_> {
    pub(crate) fn session(&self) -> &Session {
        &self.pooled.session
    }

    /// `C_Login` as user; `CKR_USER_ALREADY_LOGGED_IN` is fine (login state
    /// is shared by all sessions of the application on a token).
    fn login(&self) -> Result<()> {
        match self
            .pooled
            .session
            .login(UserType::User, Some(&self.pool.pin.auth()))
        {
            Ok(()) => Ok(()),
            Err(err) if rv(&err) == Some(RvError::UserAlreadyLoggedIn) => Ok(()),
            Err(err) => Err(login_refused(err, &self.pool.token)),
        }
    }

    fn logged_in(&self) -> Result<bool> {
        let info = self
            .pooled
            .session
            .get_session_info()
            .map_err(ck("C_GetSessionInfo"))?;
        Ok(matches!(
            info.session_state(),
            SessionState::RoUser | SessionState::RwUser
        ))
    }

    /// Fails with [`HsmError::SessionLost`] if the token of this session
    /// cannot be read any more.
    fn check_token(&self) -> Result<()> {
        match self.pool.hsm.pkcs11().get_token_info(self.pooled.slot) {
            Ok(info) if info.token_initialized() && info.label() == self.pool.token.as_str() => {
                Ok(())
            }
            Ok(_) => Err(HsmError::TokenNotFound {
                label: self.pool.token.clone(),
            }),
            Err(source) => Err(HsmError::SessionLost {
                token: self.pool.token.clone(),
                source,
            }),
        }
    }

    /// Handle of the private key with `CKA_ID = id`, cached per session.
    pub(crate) fn private_key(&mut self, id: &KeyId) -> Result<ObjectHandle> {
        if let Some(handle) = self.pooled.keys.get(id) {
            return Ok(*handle);
        }
        let mut found = key::object_by_id(self.session(), ObjectClass::PRIVATE_KEY, id)?;
        if found.is_none() && !self.logged_in()? {
            // Private objects are invisible once logged out.
            self.login()?;
            found = key::object_by_id(self.session(), ObjectClass::PRIVATE_KEY, id)?;
        }
        let Some(handle) = found else {
            // SoftHSM shows an empty token once its directory is gone.
            self.check_token()?;
            return Err(self.key_not_found(id));
        };
        self.pooled.keys.insert(id.clone(), handle);
        Ok(handle)
    }

    fn key_not_found(&self, id: &KeyId) -> HsmError {
        HsmError::KeyNotFound {
            token: self.pool.token.clone(),
            key: format!("with id {id}"),
        }
    }

    /// Public half, label and type of the key pair with `CKA_ID = id`.
    fn key_info(&mut self, id: &KeyId) -> Result<KeyInfo> {
        let private = self.private_key(id)?;
        let session = self.session();
        let (label, _) = key::label_and_id(session, private)?;
        let public = key::object_by_id(session, ObjectClass::PUBLIC_KEY, id)?
            .ok_or_else(|| self.key_not_found(id))?;
        let (key_type, spki) = key::read_public_key(session, public)?;
        Ok(KeyInfo {
            label,
            id: id.clone(),
            key_type,
            spki,
        })
    }

    fn generate_key(&mut self, label: &KeyLabel, key_type: KeyType) -> Result<KeyInfo> {
        let token = self.pool.token.clone();
        if !self.logged_in()? {
            self.login()?;
        }
        let session = self.session();
        if !key::objects_by_label(session, label)?.is_empty() {
            return Err(HsmError::KeyLabelExists {
                token,
                label: label.clone(),
            });
        }
        let (mechanism, type_specific) = key_type.generation()?;
        let (public_template, private_template) = key::templates(label, type_specific);
        let (public, private) = session
            .generate_key_pair(&mechanism, &public_template, &private_template)
            .map_err(ck("C_GenerateKeyPair"))?;
        let finish = || -> Result<KeyInfo> {
            let (read_type, spki) = key::read_public_key(session, public)?;
            if read_type != key_type {
                return Err(HsmError::UnsupportedKey {
                    reason: format!("asked for {key_type}, the token made {read_type}"),
                });
            }
            let id = KeyId::subject_key_identifier(&spki);
            let id_attr = cryptoki::object::Attribute::Id(id.as_bytes().to_vec());
            session
                .update_attributes(private, std::slice::from_ref(&id_attr))
                .map_err(ck("C_SetAttributeValue"))?;
            session
                .update_attributes(public, &[id_attr])
                .map_err(ck("C_SetAttributeValue"))?;
            let protection = key::protection(session, private)?;
            let refused = if !protection.sensitive {
                Some("CKA_SENSITIVE is false")
            } else if protection.extractable {
                Some("CKA_EXTRACTABLE is true")
            } else if protection.value_readable {
                Some("the private value can be read")
            } else {
                None
            };
            if let Some(reason) = refused {
                return Err(HsmError::KeyNotProtected {
                    token: token.clone(),
                    id,
                    reason,
                });
            }
            Ok(KeyInfo {
                label: label.clone(),
                id,
                key_type,
                spki,
            })
        };
        finish().inspect_err(|_| {
            // Leave no half-made key behind.
            let _ = session.destroy_object(private);
            let _ = session.destroy_object(public);
        })
    }
}

impl fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("SessionPool")
            .field("hsm", &inner.hsm)
            .field("token", &inner.token)
            .field("size", &inner.config.size)
            .field("idle", &inner.idle.len())
            .field("open", &inner.open.load(Ordering::Relaxed))
            .field("epoch", &inner.epoch.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Hsm {
    /// A session pool on the token labelled `token`, with default sizing
    /// (one session per CPU).
    pub fn pool(&self, token: TokenLabel, pin: Pin) -> Result<SessionPool> {
        SessionPool::new(self, token, pin, PoolConfig::default())
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<SessionPool>();
    is::<HsmSigner>();
}

#[cfg(test)]
mod tests {
    use cryptoki::context::Function;
    use cryptoki::error::Error as CkError;

    use super::*;

    /// SoftHSM never locks a PIN, so the integration tests cannot reach
    /// `CKR_PIN_LOCKED`: its mapping is checked here.
    #[test]
    fn a_locked_or_wrong_pin_names_the_token() {
        let token = TokenLabel::new("cnie-root").unwrap();
        let refused = |rv| login_refused(CkError::Pkcs11(rv, Function::Login), &token);
        let locked = refused(RvError::PinLocked);
        assert!(matches!(&locked, HsmError::PinLocked { label } if *label == token));
        assert_eq!(
            locked.to_string(),
            "user PIN of token \"cnie-root\" is locked"
        );
        let wrong = refused(RvError::PinIncorrect);
        assert!(matches!(&wrong, HsmError::WrongPin { label } if *label == token));
        assert!(matches!(
            refused(RvError::PinExpired),
            HsmError::Pkcs11 { op: "C_Login", .. }
        ));
    }
}
