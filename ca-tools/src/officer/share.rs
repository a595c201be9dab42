//! A share file: one officer's share of one CA token's user PIN, sealed to
//! that officer ([`super::seal`]), with the facts of its split in the
//! clear.
//!
//! ```json
//! {
//!   "format": "pki officer PIN share v1",
//!   "token": "pki-national",
//!   "split": "5f0c...",            // 16 random bytes, hex: one split-pin run
//!   "threshold": 2,
//!   "officers": ["amina", "karim", "youssef"],
//!   "officer": "amina",
//!   "x": 1,                         // the share's point, 1..=255
//!   "created_at": "2026-12-07T14:00:00Z",
//!   "sealed": { "kind": "x25519", "ephemeral": "...", "nonce": "...", "ciphertext": "..." }
//! }
//! ```
//!
//! Every field but `created_at` and `sealed` is the AEAD's associated data
//! ([`ShareFile::header`]): edit one and the share no longer opens.
//!
//! The secret shared is the PIN padded to [`SECRET_LEN`] bytes (its length
//! in the first byte, zeros after it), so shares do not tell the PIN's
//! length.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::seal::Sealed;
use crate::error::{CliError, Result};

/// `format` of version 1.
pub const FORMAT: &str = "pki officer PIN share v1";
/// Length of the shared secret: a length byte and up to 255 PIN bytes.
pub const SECRET_LEN: usize = 256;
/// Largest share file read.
const MAX_FILE: u64 = 16 * 1024;

/// A share file as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareFile {
    pub format: String,
    pub token: String,
    pub split: String,
    pub threshold: u8,
    pub officers: Vec<String>,
    pub officer: String,
    pub x: u8,
    pub created_at: String,
    pub sealed: Sealed,
}

impl ShareFile {
    /// The associated data binding the share to its split, officer and
    /// point: each field length-prefixed.
    pub fn header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let mut field = |bytes: &[u8]| {
            // Names and labels are far below 4 GiB.
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(bytes);
        };
        field(FORMAT.as_bytes());
        field(self.token.as_bytes());
        field(self.split.as_bytes());
        field(&[self.threshold]);
        for officer in &self.officers {
            field(officer.as_bytes());
        }
        field(b"");
        field(self.officer.as_bytes());
        field(&[self.x]);
        out
    }

    /// Reads and checks a share file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = crate::config::read_limited(path, MAX_FILE)?;
        let bad = |reason: String| CliError::ShareFile {
            path: path.to_owned(),
            reason,
        };
        let file: Self =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a share file: {e}")))?;
        if file.format != FORMAT {
            return Err(bad(format!(
                "format {:?}, this pki reads {FORMAT:?}",
                file.format
            )));
        }
        let k = usize::from(file.threshold);
        if k == 0 || k > file.officers.len() || file.x == 0 {
            return Err(bad("threshold, officers or x out of range".into()));
        }
        if !file.officers.contains(&file.officer) {
            return Err(bad(format!(
                "officer {:?} is not among the split's officers",
                file.officer
            )));
        }
        Ok(file)
    }

    /// Writes the file for `dir`/`officer`.share, mode 600, never over an
    /// existing file.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(format!("{}.share", self.officer));
        let mut text = serde_json::to_string_pretty(self).map_err(|e| CliError::ShareFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        text.push('\n');
        crate::publish::write_private(&path, text.as_bytes())?;
        Ok(path)
    }
}

/// The PIN padded to [`SECRET_LEN`].
pub fn pad(pin: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let len = u8::try_from(pin.len()).ok()?;
    let mut out = Zeroizing::new(vec![0u8; SECRET_LEN]);
    out[0] = len;
    out[1..=pin.len()].copy_from_slice(pin);
    Some(out)
}

/// The PIN inside a padded secret; `None` if the padding is not what
/// [`pad`] writes (shares of different splits, or too few).
pub fn unpad(secret: &[u8]) -> Option<Zeroizing<String>> {
    let (&len, rest) = secret.split_first()?;
    let len = usize::from(len);
    if secret.len() != SECRET_LEN || len == 0 || rest[len..].iter().any(|&b| b != 0) {
        return None;
    }
    let pin = std::str::from_utf8(&rest[..len]).ok()?;
    Some(Zeroizing::new(pin.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_round_trips_and_hides_the_length() {
        let short = pad(b"1234").unwrap();
        let long = pad(b"a-much-longer-officer-pin").unwrap();
        assert_eq!(short.len(), long.len());
        assert_eq!(unpad(&short).unwrap().as_str(), "1234");
        let mut bad = short.clone();
        bad[200] = 1;
        assert!(unpad(&bad).is_none());
        assert!(pad(&[b'x'; 256]).is_none());
    }
}
