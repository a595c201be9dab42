//! The one error type of this crate.

use std::path::PathBuf;

use cryptoki::error::{Error as CkError, RvError};

use crate::key::{KeyId, KeyLabel};
use crate::token::TokenLabel;

/// What went wrong talking to the HSM.
///
/// No variant ever carries a PIN.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HsmError {
    /// The PKCS#11 module (shared library) could not be loaded or initialised.
    #[error("cannot load PKCS#11 module {path}: {source}")]
    ModuleLoad {
        path: PathBuf,
        #[source]
        source: CkError,
    },
    /// No initialised token carries this label (or the token was removed).
    #[error("no PKCS#11 token labelled {label:?}")]
    TokenNotFound { label: TokenLabel },
    /// Several tokens carry this label: tokens are found by label only, so
    /// labels must be unique on a module.
    #[error("several PKCS#11 tokens are labelled {label:?}")]
    TokenLabelAmbiguous { label: TokenLabel },
    /// `softhsm` helper: a token with this label already exists.
    #[error("a PKCS#11 token labelled {label:?} already exists")]
    TokenLabelExists { label: TokenLabel },
    /// `softhsm` helper: no slot with an uninitialised token to use.
    #[error("no free slot to initialise a token in")]
    NoFreeSlot,
    /// A token label longer than 32 bytes, empty, or ending in a space.
    #[error("invalid token label: {reason}")]
    InvalidTokenLabel { reason: &'static str },
    /// The user PIN was refused by the token (`CKR_PIN_INCORRECT`).
    #[error("wrong user PIN for token {label:?}")]
    WrongPin { label: TokenLabel },
    /// The token locked the user PIN after too many failures (`CKR_PIN_LOCKED`).
    #[error("user PIN of token {label:?} is locked")]
    PinLocked { label: TokenLabel },
    /// The PIN environment variable is not set or not valid UTF-8.
    #[error("PIN environment variable {var} is not set or not UTF-8")]
    PinEnvMissing { var: String },
    /// The PIN file could not be read.
    #[error("cannot read PIN file {path}: {source}")]
    PinFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The PIN file (or the file its symlink points to, `target`) grants
    /// some access to group or others, as ssh refuses for private keys.
    #[error(
        "PIN file {}{} has mode {mode:03o}, open to group or others; run `chmod 600 {}`",
        path.display(), symlink_note(path, target), target.display()
    )]
    PinFileExposed {
        path: PathBuf,
        target: PathBuf,
        mode: u32,
    },
    /// The PIN file (or the file its symlink points to, `target`) belongs
    /// to another user than the one running this process.
    #[error(
        "PIN file {}{} is owned by uid {owner}, not by uid {user} running this; \
         have root run `chown {user} {}`, then run `chmod 600 {}`",
        path.display(), symlink_note(path, target), target.display(), target.display()
    )]
    PinFileNotOwned {
        path: PathBuf,
        target: PathBuf,
        owner: u32,
        user: u32,
    },
    /// The PIN is empty or contains a NUL byte or a line break.
    #[error("invalid PIN: {reason}")]
    InvalidPin { reason: &'static str },
    /// A key label that is empty.
    #[error("invalid key label: {reason}")]
    InvalidKeyLabel { reason: &'static str },
    /// Key generation refused: a key with this label already exists.
    #[error("a key labelled {label:?} already exists on token {token:?}")]
    KeyLabelExists { token: TokenLabel, label: KeyLabel },
    /// No key pair (private and public object) with this label or id.
    #[error("no key {key} on token {token:?}")]
    KeyNotFound { token: TokenLabel, key: String },
    /// Several private keys carry this label.
    #[error("several keys labelled {label:?} on token {token:?}")]
    KeyLabelAmbiguous { token: TokenLabel, label: KeyLabel },
    /// The token did not apply a protection attribute we asked for (the key
    /// was destroyed again).
    #[error("token {token:?} did not protect key {id}: {reason}")]
    KeyNotProtected {
        token: TokenLabel,
        id: KeyId,
        reason: &'static str,
    },
    /// A key the crate does not know how to use (other curve, other size).
    #[error("unsupported key: {reason}")]
    UnsupportedKey { reason: String },
    /// The signature algorithm does not fit the key type.
    #[error("algorithm {algorithm} cannot be used with a {key_type} key")]
    AlgorithmMismatch {
        algorithm: &'static str,
        key_type: &'static str,
    },
    /// The token returned a malformed attribute or signature.
    #[error("malformed value from the token: {reason}")]
    Malformed { reason: String },
    /// The session, the token or the module went away (session handle
    /// invalid, device removed, module failure). The pool reconnects on a
    /// later call; retry later.
    #[error(
        "lost the session to token {token:?} ({source}); the pool reconnects on the next call"
    )]
    SessionLost {
        token: TokenLabel,
        #[source]
        source: CkError,
    },
    /// Every session the token allows is in use.
    #[error("no free session on token {token:?}")]
    PoolExhausted { token: TokenLabel },
    /// `softhsm` helper: the process already uses another SoftHSM config
    /// (`SOFTHSM2_CONF` is read once per module initialisation).
    #[error("this process already uses SoftHSM config {current}")]
    SoftHsmConfInUse { current: PathBuf },
    /// SoftHSM's files for a token cannot be used: which directory, what is
    /// wrong, and what to do (rather than "no token labelled").
    #[error("SoftHSM token {label:?} in {dir}: {detail}")]
    SoftHsmToken {
        label: TokenLabel,
        dir: PathBuf,
        detail: String,
    },
    /// `softhsm` helper: a file system error.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Any other PKCS#11 failure, with the operation that failed.
    #[error("PKCS#11 {op} failed: {source}")]
    Pkcs11 {
        op: &'static str,
        #[source]
        source: CkError,
    },
}

/// " (a symlink to TARGET)" when the PIN file path is not the file judged.
fn symlink_note(path: &std::path::Path, target: &std::path::Path) -> String {
    if path == target {
        String::new()
    } else {
        format!(" (a symlink to {})", target.display())
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = HsmError> = std::result::Result<T, E>;

/// The PKCS#11 return value inside a `cryptoki` error, if it has one.
pub(crate) fn rv(err: &CkError) -> Option<RvError> {
    match err {
        CkError::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// How a failed call affects the session and the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// This session handle is dead; other sessions may be fine.
    Session,
    /// Object handles are stale or the user was logged out (another session
    /// logged out, the token was re-inserted): log in again, find the key
    /// again.
    Handles,
    /// The token or the module is gone or broken: drop every session and
    /// reconnect.
    Device,
    /// A failure of this operation only.
    Operation,
}

impl Failure {
    pub(crate) fn of(err: &CkError) -> Self {
        match rv(err) {
            Some(RvError::SessionHandleInvalid | RvError::SessionClosed) => Self::Session,
            Some(
                RvError::ObjectHandleInvalid | RvError::KeyHandleInvalid | RvError::UserNotLoggedIn,
            ) => Self::Handles,
            Some(
                RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::DeviceMemory
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::SlotIdInvalid
                | RvError::CryptokiNotInitialized
                | RvError::GeneralError,
            ) => Self::Device,
            _ => Self::Operation,
        }
    }
}

/// `map_err` helper: wrap a `cryptoki` error with the operation name.
pub(crate) fn ck(op: &'static str) -> impl FnOnce(CkError) -> HsmError {
    move |source| HsmError::Pkcs11 { op, source }
}

impl From<HsmError> for pki_core::SignError {
    fn from(err: HsmError) -> Self {
        match err {
            HsmError::SessionLost { .. }
            | HsmError::TokenNotFound { .. }
            | HsmError::PoolExhausted { .. }
            | HsmError::ModuleLoad { .. } => Self::Unavailable(err.to_string()),
            HsmError::Pkcs11 { ref source, .. } if Failure::of(source) != Failure::Operation => {
                Self::Unavailable(err.to_string())
            }
            other => Self::Failed(other.to_string()),
        }
    }
}
