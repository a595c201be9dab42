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
    ///
    /// As ssh does for private keys, the file must belong to the user
    /// running this process and grant nothing to group or others (mode
    /// 0600 or 0400); a symlink is followed and the file it points to is
    /// judged. The check is made on the opened file, so the file judged is
    /// the file read.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        use std::io::Read as _;

        let path = path.as_ref();
        let read_err = |source| HsmError::PinFile {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read_err)?;
        #[cfg(unix)]
        judge_pin_file(path, &file.metadata().map_err(read_err)?)?;
        let mut text = Zeroizing::new(String::new());
        file.read_to_string(&mut text).map_err(read_err)?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        Self::new(text.as_str())
    }

    /// The PIN's bytes, for the one caller that must see them: splitting
    /// the PIN into officers' shares (`pki officer split-pin`), which seals
    /// each share at once and keeps no copy outside zeroized buffers.
    /// Nothing else reads a PIN back.
    pub fn expose_for_splitting(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The PIN in the form `cryptoki` takes it (a `secrecy` box, also wiped
    /// on drop).
    pub(crate) fn auth(&self) -> AuthPin {
        AuthPin::new(self.0.as_str().into())
    }
}

/// Refuses a PIN file owned by another user or with any group or other
/// permission bit (ssh's `077` mask for private keys).
#[cfg(unix)]
fn judge_pin_file(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt as _;

    // The file the error names and the `chmod` applies to: the symlink's
    // target when the path is a symlink, else the path as given.
    let target = || {
        let is_link = path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
        } else {
            path.to_owned()
        }
    };
    let user = rustix::process::geteuid().as_raw();
    if meta.uid() != user {
        return Err(HsmError::PinFileNotOwned {
            path: path.to_owned(),
            target: target(),
            owner: meta.uid(),
            user,
        });
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(HsmError::PinFileExposed {
            path: path.to_owned(),
            target: target(),
            mode,
        });
    }
    Ok(())
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn debug_does_not_show_the_pin() {
        let pin = Pin::new("123456").unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
        assert!(!format!("{:?}", Some(&pin)).contains("123456"));
    }

    /// Writes a PIN file with mode `mode`, whatever the umask.
    fn write_pin(path: &Path, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn file_pin_loses_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        write_pin(&path, "4321\r\n", 0o600);
        assert_eq!(Pin::from_file(&path).unwrap().0.as_str(), "4321");
        write_pin(&path, "4321\n\n", 0o600);
        assert!(matches!(
            Pin::from_file(&path),
            Err(HsmError::InvalidPin { .. })
        ));
    }

    #[test]
    fn pin_file_open_to_group_or_others_is_refused_with_the_chmod_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        write_pin(&path, "4321\n", 0o400);
        assert_eq!(Pin::from_file(&path).unwrap().0.as_str(), "4321");
        for mode in [0o640, 0o604, 0o644, 0o620, 0o601] {
            write_pin(&path, "4321\n", mode);
            let err = Pin::from_file(&path).unwrap_err();
            assert!(
                matches!(err, HsmError::PinFileExposed { mode: m, .. } if m == mode),
                "{mode:o}: {err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "PIN file {p} has mode {mode:03o}, open to group or others; \
                     run `chmod 600 {p}`",
                    p = path.display()
                )
            );
        }
    }

    #[test]
    fn symlinked_pin_file_is_judged_by_its_target() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real-pin");
        let link = dir.path().join("pin");
        write_pin(&target, "4321\n", 0o644);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        // The link's own mode (0777 on Linux) does not matter; the target's does.
        let err = Pin::from_file(&link).unwrap_err();
        let target = std::fs::canonicalize(&target).unwrap();
        assert!(
            matches!(&err, HsmError::PinFileExposed { target: t, mode: 0o644, .. } if *t == target),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&format!(
                "(a symlink to {t}) has mode 644, open to group or others; run `chmod 600 {t}`",
                t = target.display()
            )),
            "{err}"
        );
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Pin::from_file(&link).unwrap().0.as_str(), "4321");
    }

    #[test]
    fn pin_file_of_another_user_is_refused() {
        let me = rustix::process::geteuid().as_raw();
        // As root, give a 0600 file to `nobody`; as anyone else, a file
        // root owns and everyone may read.
        let dir = tempfile::tempdir().unwrap();
        let path = if me == 0 {
            let path = dir.path().join("pin");
            write_pin(&path, "4321\n", 0o600);
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            path
        } else {
            PathBuf::from("/etc/passwd")
        };
        let owner = if me == 0 { 65534 } else { 0 };
        let err = Pin::from_file(&path).unwrap_err();
        assert!(
            matches!(err, HsmError::PinFileNotOwned { owner: o, user, .. } if o == owner && user == me),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with(&format!(
                "PIN file {} is owned by uid {owner}, not by uid {me} running this",
                path.display()
            )),
            "{err}"
        );
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
