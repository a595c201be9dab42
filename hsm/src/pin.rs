//! The user PIN: read from an environment variable or a file, never from
//! argv; never logged; wiped from memory when dropped.

use std::fmt;
use std::path::Path;

use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::error::{HsmError, Result};

/// A PKCS#11 PIN. `Debug` prints `Pin(<redacted>)`; there is no `Display`.
#[derive(Clone)]
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// A PIN from a string the caller already holds (tests, the SoftHSM
    /// helper). Rejects empty PINs and PINs with NUL bytes or line breaks.
    pub fn new(pin: impl Into<String>) -> Result<Self> {
        let pin = Zeroizing::new(pin.into());
        if pin.is_empty() {
            return Err(HsmError::InvalidPin { reason: "empty" });
        }
        if pin.contains(['\0', '\n', '\r']) {
            return Err(HsmError::InvalidPin {
                reason: "contains a NUL byte or a line break",
            });
        }
        Ok(Self(pin))
    }

    /// The PIN held in environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self> {
        let value = std::env::var(var).map_err(|_| HsmError::PinEnvMissing {
            var: var.to_owned(),
        })?;
        Self::new(value)
    }

    /// The PIN stored in `path`: the whole file, less one trailing `\n` or
    /// `\r\n`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| HsmError::PinFile {
                    path: path.to_owned(),
                    source,
                })?,
            );
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        Self::new(text.as_str())
    }

    /// The PIN in the form `cryptoki` takes it (a `secrecy` box, also wiped
    /// on drop).
    pub(crate) fn auth(&self) -> AuthPin {
        AuthPin::new(self.0.as_str().into())
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_the_pin() {
        let pin = Pin::new("123456").unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
        assert!(!format!("{:?}", Some(&pin)).contains("123456"));
    }

    #[test]
    fn file_pin_loses_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        std::fs::write(&path, "4321\r\n").unwrap();
        assert_eq!(Pin::from_file(&path).unwrap().0.as_str(), "4321");
        std::fs::write(&path, "4321\n\n").unwrap();
        assert!(matches!(
            Pin::from_file(&path),
            Err(HsmError::InvalidPin { .. })
        ));
    }

    #[test]
    fn missing_sources_are_errors() {
        assert!(matches!(
            Pin::from_env("HSM_TEST_PIN_THAT_IS_NEVER_SET"),
            Err(HsmError::PinEnvMissing { .. })
        ));
        assert!(matches!(
            Pin::from_file("/nonexistent/pin"),
            Err(HsmError::PinFile { .. })
        ));
        assert!(matches!(Pin::new(""), Err(HsmError::InvalidPin { .. })));
    }
}
