//! Dual control at the moment of a CA-key operation: the officers present
//! hand in their shares (`--officer-share`), each opened with that
//! officer's key file or passphrase; with `threshold` of them the PIN is
//! rebuilt in memory only, into an [`hsm::Pin`], and every buffer that held
//! it is zeroized. Fewer valid shares stop the operation before the HSM is
//! touched, naming who is missing.
//!
//! Without shares the PIN comes from the single PIN file or variable, as
//! before: the single-PIN mode, kept for the demo and labelled so in the
//! audit entry (`"pin_mode": "single (demo)"`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use hsm::{Pin, SessionPool, TokenLabel};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::seal::{self, OfficerKey, OpenFailure, Opener, Passphrase};
use super::shamir;
use super::share::{self, ShareFile};
use crate::config::HsmSettings;
use crate::error::{invalid, CliError, Result};

/// The audit label of the single-PIN mode.
pub const SINGLE_PIN: &str = "single (demo)";

/// The officers present for a CA-key operation.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OfficerArgs {
    /// Dual control: the share file of an officer present (from `pki
    /// officer split-pin`); repeat for each, at least the split's threshold.
    /// Without any, the PIN comes from the single PIN file or variable:
    /// single-PIN mode, for the demo only, labelled "single (demo)" in the
    /// audit log.
    #[arg(long = "officer-share", value_name = "FILE")]
    pub shares: Vec<PathBuf>,
    /// The private key file (`pki officer keygen`) of an officer present,
    /// matched to that officer's share by public key; repeat for each.
    #[arg(long = "officer-key", value_name = "FILE")]
    pub keys: Vec<PathBuf>,
    /// NAME=FILE: the file holding officer NAME's passphrase (mode 600);
    /// repeat for each. Passphrase officers without one are asked on the
    /// terminal, without echo.
    #[arg(long = "officer-passphrase-file", value_name = "NAME=FILE")]
    pub passphrase_files: Vec<String>,
}

/// How the token's PIN was obtained for this operation.
#[derive(Debug)]
pub enum Unlock {
    /// From the single PIN file or variable (demo mode).
    Single,
    /// Rebuilt from `officers`' shares of split `split` for `token`.
    Quorum {
        token: TokenLabel,
        split: String,
        threshold: u8,
        of: usize,
        officers: Vec<String>,
        pin: Pin,
    },
}

impl Unlock {
    /// The PIN of `settings.token`: the rebuilt one for the token the
    /// shares are for, else the single PIN source (a second token, such as
    /// an offline parent's, is not under dual control: said on stderr).
    ///
    /// A token whose settings require officers (`[hsm] require_officers`)
    /// is refused without their shares, before anything touches the HSM.
    pub fn pin_for(&self, settings: &HsmSettings) -> Result<Pin> {
        let covered = matches!(self, Self::Quorum { token, .. } if *token == settings.token);
        if settings.require_officers && !covered {
            return Err(CliError::OfficersRequired {
                token: settings.token.as_str().to_owned(),
            });
        }
        match self {
            Self::Quorum { token, pin, .. } if *token == settings.token => Ok(pin.clone()),
            Self::Quorum { token, .. } => {
                eprintln!(
                    "pki: warning: the officers' shares are for token {token}; token {} is \
                     opened with the single PIN from {} (demo mode, no dual control)",
                    settings.token, settings.pin
                );
                settings.pin.read()
            }
            Self::Single => settings.pin.read(),
        }
    }

    /// Logs in to `settings.token` with [`Unlock::pin_for`].
    pub fn open(&self, settings: &HsmSettings) -> Result<SessionPool> {
        crate::keystore::open_with_pin(settings, self.pin_for(settings)?)
    }

    /// What the audit entry says: `pin_mode` and, under dual control, the
    /// officers present.
    pub fn details(&self) -> Value {
        match self {
            Self::Single => json!({ "pin_mode": SINGLE_PIN }),
            Self::Quorum {
                token,
                split,
                threshold,
                of,
                officers,
                ..
            } => json!({
                "pin_mode": format!("{threshold}-of-{of} officers"),
                "officers": officers,
                "pin_split": split,
                "token": token.as_str(),
            }),
        }
    }

    /// `details` merged into `into` (an object).
    pub fn annotate(&self, mut into: Value) -> Value {
        if let (Some(map), Value::Object(more)) = (into.as_object_mut(), self.details()) {
            map.extend(more);
        }
        into
    }

    /// One line for the plan print-out.
    pub fn describe(&self) -> String {
        match self {
            Self::Single => "single PIN (demo mode: no dual control)".into(),
            Self::Quorum {
                threshold,
                of,
                officers,
                ..
            } => format!(
                "{threshold}-of-{of} officers present: {}",
                officers.join(", ")
            ),
        }
    }
}

impl OfficerArgs {
    /// Whether officers presented shares (else single-PIN mode).
    pub fn dual_control(&self) -> bool {
        !self.shares.is_empty()
    }

    fn passphrase_file(&self, officer: &str) -> Result<Option<PathBuf>> {
        for entry in &self.passphrase_files {
            let (name, file) = entry.split_once('=').ok_or_else(|| {
                invalid(
                    "--officer-passphrase-file",
                    format!("{entry:?}: expected NAME=FILE"),
                )
            })?;
            if name == officer {
                return Ok(Some(PathBuf::from(file)));
            }
        }
        Ok(None)
    }

    /// `officer`'s passphrase: from its file, else asked on the terminal.
    pub fn passphrase(&self, officer: &str) -> Result<Passphrase> {
        match self.passphrase_file(officer)? {
            Some(file) => Passphrase::from_file(&file),
            None => Passphrase::prompt(&format!("passphrase of officer {officer}: ")),
        }
    }

    /// Opens the shares for `token` and rebuilds its PIN, or
    /// [`Unlock::Single`] when no share is given. Touches no HSM.
    pub async fn unlock(&self, store: &store::Store, token: &TokenLabel) -> Result<Unlock> {
        if !self.dual_control() {
            return Ok(Unlock::Single);
        }
        let keys = self
            .keys
            .iter()
            .map(|path| OfficerKey::read(path))
            .collect::<Result<Vec<_>>>()?;
        let mut split: Option<ShareFile> = None;
        // officer -> (x, y), one per officer.
        let mut opened: BTreeMap<String, shamir::Share> = BTreeMap::new();
        for path in &self.shares {
            let file = ShareFile::read(path)?;
            let mismatch = |reason: String| CliError::ShareFile {
                path: path.clone(),
                reason,
            };
            if file.token != token.as_str() {
                return Err(mismatch(format!(
                    "it is a share of the PIN of token {:?}, this operation uses token {:?}",
                    file.token,
                    token.as_str()
                )));
            }
            if let Some(first) = &split {
                if (&first.split, first.threshold, &first.officers)
                    != (&file.split, file.threshold, &file.officers)
                {
                    return Err(mismatch(format!(
                        "it is from another split-pin run (split {}) than the first share (split {})",
                        file.split, first.split
                    )));
                }
            }
            if opened.contains_key(&file.officer) {
                return Err(mismatch(format!(
                    "a second share of officer {:?}: each officer counts once",
                    file.officer
                )));
            }
            let officer = store.officer(&file.officer).await?.ok_or_else(|| {
                CliError::OfficerNotEnrolled {
                    officer: file.officer.clone(),
                }
            })?;
            let header = file.header();
            let not_opened = |reason: &str| CliError::ShareNotOpened {
                officer: file.officer.clone(),
                path: path.clone(),
                reason: reason.to_owned(),
            };
            let plain = match officer.credential_kind.as_str() {
                seal::KIND_X25519 => {
                    let key = keys
                        .iter()
                        .find(|k| k.public()[..] == officer.credential[..])
                        .ok_or_else(|| {
                            not_opened("no --officer-key FILE given matches this officer's enrolled public key")
                        })?;
                    seal::open(&file.sealed, &Opener::Key(key), &header)
                }
                seal::KIND_PASSPHRASE => {
                    let passphrase = self.passphrase(&file.officer)?;
                    let phc = std::str::from_utf8(&officer.credential).unwrap_or_default();
                    if !passphrase.matches(phc) {
                        return Err(not_opened("wrong passphrase"));
                    }
                    seal::open(&file.sealed, &Opener::Passphrase(&passphrase), &header)
                }
                other => {
                    return Err(not_opened(&format!(
                        "unknown credential kind {other:?} in the store"
                    )))
                }
            };
            let y = plain.map_err(|e| {
                not_opened(match e {
                    OpenFailure::WrongKind => {
                        "the share is sealed to another kind of credential than the officer's"
                    }
                    OpenFailure::Malformed => "the share file is malformed",
                    OpenFailure::NotYours => {
                        "it does not open with this officer's key or passphrase (another officer's share, or the file was changed)"
                    }
                })
            })?;
            opened.insert(file.officer.clone(), shamir::Share { x: file.x, y });
            split.get_or_insert(file);
        }
        // At least one share was read: `dual_control` holds.
        let Some(split) = split else {
            return Ok(Unlock::Single);
        };
        let present: Vec<String> = opened.keys().cloned().collect();
        if opened.len() < usize::from(split.threshold) {
            return Err(CliError::QuorumShort {
                token: token.as_str().to_owned(),
                threshold: split.threshold,
                officers: split.officers.clone(),
                missing: split
                    .officers
                    .iter()
                    .filter(|o| !opened.contains_key(*o))
                    .cloned()
                    .collect(),
                present,
            });
        }
        let shares: Vec<shamir::Share> = opened.into_values().collect();
        let secret = shamir::combine(&shares).map_err(|e| CliError::ShareFile {
            path: self.shares[0].clone(),
            reason: e.to_string(),
        })?;
        let pin: Zeroizing<String> = share::unpad(&secret).ok_or_else(|| CliError::ShareFile {
            path: self.shares[0].clone(),
            reason: "the shares do not combine into a PIN".into(),
        })?;
        Ok(Unlock::Quorum {
            token: token.clone(),
            split: split.split.clone(),
            threshold: split.threshold,
            of: split.officers.len(),
            officers: present,
            pin: Pin::new(pin.as_str())?,
        })
    }
}
