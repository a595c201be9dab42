//! Every file the `pki` commands write goes through here, so a crash never
//! leaves half a certificate, CRL or OCSP response: the bytes go to a
//! temporary file beside the destination, are fsynced, then moved into
//! place (a hard link for certificates, which never overwrite an existing
//! file; a rename for CRLs and pre-signed responses, which replace the
//! previous one), and the directory is fsynced so the move survives a
//! power cut.
//!
//! Runs that may target the same path (two `pki crl generate --out
//! same.crl`) serialise on a [`Lock`] beside it, held from the decision
//! that settles the file's content (the CRL number, the check that a
//! certificate file is absent) until the file is in place.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{invalid, CliError, Result};

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
    stage_io(dest, bytes).map_err(|source| CliError::Write {
        path: dest.to_owned(),
        source,
    })
}

/// A fresh temporary file beside `dest` to write a large output into
/// (sync it before publishing the [`Staged`]).
pub fn stage_file(dest: &Path) -> Result<(Staged, File)> {
    open_staged(dest).map_err(|source| CliError::Write {
        path: dest.to_owned(),
        source,
    })
}

fn stage_io(dest: &Path, bytes: &[u8]) -> std::io::Result<Staged> {
    let (staged, mut file) = open_staged(dest)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(staged)
}

fn open_staged(dest: &Path) -> std::io::Result<(Staged, File)> {
    // Unique within the process too: `pki presign` writes from threads.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = parent(dest) {
        std::fs::create_dir_all(dir)?;
    }
    let mut name = std::ffi::OsString::from(".");
    name.push(dest.file_name().unwrap_or_default());
    name.push(format!(
        ".partial-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dest.with_file_name(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    let staged = Staged {
        tmp,
        dest: dest.to_owned(),
        published: false,
    };
    Ok((staged, file))
}

/// Writes a secret file (an officer's private key, a PIN share): created
/// with mode 600 (never wider, whatever the umask), never over an existing
/// file, fsynced with its directory. A crash may leave a partial file
/// under the name; it is refused like any other existing file.
pub fn write_private(dest: &Path, bytes: &[u8]) -> Result<()> {
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(dest)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        sync_dir(dest)
    };
    write().map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::AlreadyExists {
                what: "file",
                name: dest.display().to_string(),
            }
        } else {
            CliError::Write {
                path: dest.to_owned(),
                source,
            }
        }
    })
}

/// Writes `bytes` to `dest` atomically, replacing what was there: staged,
/// fsynced, renamed, directory fsynced. For callers that report
/// `std::io::Error`s (the pre-signer's writer).
pub fn replace(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    stage_io(dest, bytes)?.replace_io()
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
        sync_dir(&self.dest).map_err(|source| CliError::Write {
            path: self.dest.clone(),
            source,
        })
    }

    /// Moves the file into place, atomically replacing the destination.
    pub fn publish_replace(self) -> Result<()> {
        let dest = self.dest.clone();
        self.replace_io()
            .map_err(|source| CliError::Write { path: dest, source })
    }

    fn replace_io(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.dest)?;
        self.published = true;
        sync_dir(&self.dest)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The directory `path` is in, unless that is the current directory.
fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|d| !d.as_os_str().is_empty())
}

/// Makes a link or rename of `path` durable: fsync of its directory.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(parent(path).unwrap_or(Path::new(".")))?.sync_all()
}

/// An exclusive `flock` on `.NAME.lock` beside the destination `NAME`,
/// released when dropped (or when the process dies, however it dies). The
/// lock file stays: removing it would let a waiting run lock a file that
/// no longer has a name.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Waits for the lock on `dest` (blocking the thread). Creates the
/// directory if needed.
pub fn lock(dest: &Path) -> Result<Lock> {
    // `.` and `..` have no name of their own: use the directory's.
    let named = match dest.file_name() {
        Some(_) => dest.to_owned(),
        None => std::fs::canonicalize(dest).map_err(|source| CliError::Write {
            path: dest.to_owned(),
            source,
        })?,
    };
    let Some(file_name) = named.file_name() else {
        return Err(invalid(
            "output path",
            format!("{} has no name to lock", dest.display()),
        ));
    };
    let mut name = std::ffi::OsString::from(".");
    name.push(file_name);
    name.push(".lock");
    let path = named.with_file_name(name);
    let err = |source| CliError::Write {
        path: path.clone(),
        source,
    };
    if let Some(dir) = parent(&path) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(err)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| err(e.into()))?;
    Ok(Lock { _file: file })
}

/// [`lock`] from async code: the wait happens on a blocking thread, so
/// runs in one process (tests) cannot deadlock the runtime.
pub async fn wait_for_lock(dest: &Path) -> Result<Lock> {
    let dest = dest.to_owned();
    tokio::task::spawn_blocking(move || lock(&dest))
        .await
        .map_err(|e| CliError::Write {
            path: PathBuf::new(),
            source: std::io::Error::other(e),
        })?
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
        replace(&dest, b"four").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"four");
        // Nothing left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(stage(&dir.path().join("b.pem"), b"x").unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_second_lock_on_one_destination_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub").join("x.crl");
        let first = lock(&dest).unwrap();
        assert!(dir.path().join("sub/.x.crl.lock").exists());
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let dest = dest.clone();
            std::thread::spawn(move || {
                let second = lock(&dest).unwrap();
                tx.send(()).unwrap();
                drop(second);
            })
        };
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err());
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
        // Another destination has its own lock.
        let _a = lock(&dest).unwrap();
        let _b = lock(&dir.path().join("sub/y.crl")).unwrap();
    }
}
