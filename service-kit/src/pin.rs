//! Where an HSM user PIN comes from. A PIN is never in a configuration
//! file and never on the command line: the file names an environment
//! variable (`pin_env`) or a file (`pin_file`, mode 600) holding it.

use std::fmt;
use std::path::{Path, PathBuf};

/// The source of a PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    Env(String),
    File(PathBuf),
}

/// `pin_env` and `pin_file` were both set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("set one of pin_env and pin_file, not both")]
pub struct BothPinSources;

impl PinSource {
    /// From the `pin_env` and `pin_file` keys of a configuration table:
    /// `None` when neither is set.
    pub fn from_keys(
        pin_env: Option<&str>,
        pin_file: Option<&Path>,
    ) -> Result<Option<Self>, BothPinSources> {
        match (pin_env, pin_file) {
            (Some(_), Some(_)) => Err(BothPinSources),
            (Some(var), None) => Ok(Some(Self::Env(var.to_owned()))),
            (None, Some(file)) => Ok(Some(Self::File(file.to_owned()))),
            (None, None) => Ok(None),
        }
    }

    /// Reads the PIN (a PIN file open to group or others is refused).
    #[cfg(feature = "hsm")]
    pub fn read(&self) -> Result<hsm::Pin, hsm::HsmError> {
        match self {
            Self::Env(var) => hsm::Pin::from_env(var),
            Self::File(path) => hsm::Pin::from_file(path),
        }
    }
}

impl fmt::Display for PinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(var) => write!(f, "environment variable {var}"),
            Self::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_source_at_most() {
        assert_eq!(PinSource::from_keys(None, None), Ok(None));
        assert_eq!(
            PinSource::from_keys(Some("PIN"), None),
            Ok(Some(PinSource::Env("PIN".into())))
        );
        assert_eq!(
            PinSource::from_keys(None, Some(Path::new("pin")))
                .unwrap()
                .unwrap()
                .to_string(),
            "file pin"
        );
        assert_eq!(
            PinSource::from_keys(Some("PIN"), Some(Path::new("pin"))),
            Err(BothPinSources)
        );
    }
}
