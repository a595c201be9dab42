//! Tokens, found by label (slot ids change when tokens are initialised or
//! re-inserted).

use std::fmt;

use cryptoki::context::Pkcs11;
use cryptoki::slot::Slot;

use crate::error::{ck, HsmError, Result};

/// A token label (`CK_TOKEN_INFO.label`): 1 to 32 bytes of UTF-8, no
/// trailing space (PKCS#11 pads labels with spaces).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenLabel(String);

impl TokenLabel {
    /// Checks the PKCS#11 limits.
    pub fn new(label: impl Into<String>) -> Result<Self> {
        let label = label.into();
        if label.is_empty() {
            return Err(HsmError::InvalidTokenLabel { reason: "empty" });
        }
        if label.len() > 32 {
            return Err(HsmError::InvalidTokenLabel {
                reason: "longer than 32 bytes",
            });
        }
        if label.ends_with(' ') {
            return Err(HsmError::InvalidTokenLabel {
                reason: "ends with a space",
            });
        }
        Ok(Self(label))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for TokenLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for TokenLabel {
    type Err = HsmError;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

/// The slot holding the initialised token labelled `label`. Slots whose
/// token cannot be read (removed, broken) are skipped.
pub(crate) fn find_slot(pkcs11: &Pkcs11, label: &TokenLabel) -> Result<Slot> {
    let mut found = None;
    for slot in pkcs11.get_slots_with_token().map_err(ck("C_GetSlotList"))? {
        let Ok(info) = pkcs11.get_token_info(slot) else {
            continue;
        };
        if info.token_initialized() && info.label() == label.as_str() {
            if found.is_some() {
                return Err(HsmError::TokenLabelAmbiguous {
                    label: label.clone(),
                });
            }
            found = Some(slot);
        }
    }
    found.ok_or_else(|| HsmError::TokenNotFound {
        label: label.clone(),
    })
}

/// Labels of every initialised, readable token.
pub(crate) fn labels(pkcs11: &Pkcs11) -> Result<Vec<TokenLabel>> {
    let mut labels = Vec::new();
    for slot in pkcs11.get_slots_with_token().map_err(ck("C_GetSlotList"))? {
        if let Ok(info) = pkcs11.get_token_info(slot) {
            if info.token_initialized() {
                if let Ok(label) = TokenLabel::new(info.label()) {
                    labels.push(label);
                }
            }
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_pkcs11_limits() {
        assert!(TokenLabel::new("ocsp-2025").is_ok());
        assert!(TokenLabel::new("x".repeat(32)).is_ok());
        assert!(TokenLabel::new("x".repeat(33)).is_err());
        assert!(TokenLabel::new("").is_err());
        assert!(TokenLabel::new("root ").is_err());
    }
}
