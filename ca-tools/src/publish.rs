//! Writing certificates and CRLs to files: certificates never overwrite an
//! existing file; CRLs replace the previous one atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};

/// Refuses a destination that already exists.
pub fn ensure_absent(path: &Path, what: &'static str) -> Result<()> {
    if path.exists() || path.symlink_metadata().is_ok() {
        return Err(CliError::AlreadyExists {
            what,
            name: path.display().to_string(),
        });
    }
    Ok(())
}

/// Bytes written next to their destination, published by
/// [`Staged::publish_new`] or [`Staged::publish_replace`]; removed if
/// dropped unpublished.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
    published: bool,
}

/// Writes `bytes` to a fresh temporary file beside `dest` and syncs it.
pub fn stage(dest: &Path, bytes: &[u8]) -> Result<Staged> {
    let write_err = |source| CliError::Write {
        path: dest.to_owned(),
        source,
    };
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let mut name = dest.file_name().unwrap_or_default().to_owned();
    name.push(format!(".partial-{}", std::process::id()));
    let tmp = dest.with_file_name(name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(write_err)?;
    let staged = Staged {
        tmp,
        dest: dest.to_owned(),
        published: false,
    };
    file.write_all(bytes).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    Ok(staged)
}

impl Staged {
    /// Moves the file into place unless the destination exists (a hard
    /// link cannot clobber).
    pub fn publish_new(mut self) -> Result<()> {
        std::fs::hard_link(&self.tmp, &self.dest).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                CliError::AlreadyExists {
                    what: "file",
                    name: self.dest.display().to_string(),
                }
            } else {
                CliError::Write {
                    path: self.dest.clone(),
                    source,
                }
            }
        })?;
        self.published = true;
        let _ = std::fs::remove_file(&self.tmp);
        Ok(())
    }

    /// Moves the file into place, atomically replacing the destination.
    pub fn publish_replace(mut self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.dest).map_err(|source| CliError::Write {
            path: self.dest.clone(),
            source,
        })?;
        self.published = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_never_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.pem");
        stage(&dest, b"one").unwrap().publish_new().unwrap();
        assert!(ensure_absent(&dest, "certificate file").is_err());
        let err = stage(&dest, b"two").unwrap().publish_new().unwrap_err();
        assert!(matches!(err, CliError::AlreadyExists { .. }), "{err}");
        assert_eq!(std::fs::read(&dest).unwrap(), b"one");
        stage(&dest, b"three").unwrap().publish_replace().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"three");
        // Nothing left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(stage(&dir.path().join("b.pem"), b"x").unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
