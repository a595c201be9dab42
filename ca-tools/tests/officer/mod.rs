//! Fixtures for the officer-command tests: a temp working directory with a
//! fresh SoftHSM2 token and a SQLite store, and the real `pki` binary run
//! on the example ceremony files in `examples/ceremony/`.
//!
//! `SOFTHSM2_CONF` is process-wide and read when the module initialises, so
//! a test process keeps one SoftHSM directory (under Cargo's target tmp
//! dir) and each test gets its own token in it, by label; the `pki` child
//! processes inherit the variable. This works under nextest (a process per
//! test) and under `cargo test` (threads).

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use hsm::softhsm::SoftHsm;
use hsm::{Pin, TokenLabel};

pub const PIN: &str = "officer-pin-2468";
pub const SO_PIN: &str = "so-pin-1357";
const PIN_VAR: &str = "PKI_HSM_PIN";

struct Shared {
    _dir: tempfile::TempDir,
    softhsm: SoftHsm,
}

/// This process's SoftHSM installation.
pub fn softhsm() -> &'static SoftHsm {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    &SHARED
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ca-tools-softhsm");
            std::fs::create_dir_all(&root).unwrap();
            let dir = tempfile::Builder::new()
                .prefix("run-")
                .tempdir_in(&root)
                .unwrap();
            let softhsm = SoftHsm::open(dir.path()).unwrap();
            Shared { _dir: dir, softhsm }
        })
        .softhsm
}

/// A new token with a label unique in this process.
pub fn new_token(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let label = format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    softhsm()
        .init_token(
            &TokenLabel::new(label.clone()).unwrap(),
            &Pin::new(SO_PIN).unwrap(),
            &Pin::new(PIN).unwrap(),
        )
        .unwrap();
    label
}

pub struct Bed {
    pub dir: tempfile::TempDir,
    /// This test's token label.
    pub token: String,
    pub store_url: String,
}

/// The example ceremony files shipped in the repository.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ceremony")
}

pub fn example(name: &str) -> PathBuf {
    examples().join(name)
}

impl Bed {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let token = new_token("pki-test");
        let store_url = format!("sqlite://{}/var/pki.db", dir.path().display());
        let bed = Self {
            dir,
            token,
            store_url,
        };
        bed.init_store();
        bed
    }

    /// Creates the (empty) store at `store_url`, as `pki store init` does
    /// but without its audit entry, so the tests' entry counts start at 0.
    pub fn init_store(&self) {
        Self::runtime().block_on(async {
            store::Store::create(&self.store_url)
                .await
                .unwrap()
                .close()
                .await;
        });
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `pki ARGS` in the working directory with the example operations
    /// config, this bed's token and store, and the PIN in its variable,
    /// ready to run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pki"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("PKI_CONFIG", example("pki.toml"))
            .env("PKI_HSM_TOKEN", &self.token)
            .env("PKI_STORE_URL", &self.store_url)
            .env(PIN_VAR, PIN)
            .env("PKI_ACTOR", "test-officer")
            .env_remove("PKI_HSM_PIN_FILE");
        command
    }

    /// Runs [`Bed::command`] to its end.
    pub fn pki(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs `pki ARGS`, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.pki(args);
        assert!(
            out.status.success(),
            "pki {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `pki ARGS`, asserts exit status 1, returns stdout + stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.pki(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "pki {args:?} did not fail:\n{text}"
        );
        text
    }

    /// Root and CNIE citizen CA ceremonies from the examples.
    pub fn root_and_cnie(&self) {
        self.ceremony("root", "01-national-root.toml");
        self.ceremony("intermediate", "02-cnie-citizen-ca.toml");
    }

    pub fn ceremony(&self, kind: &str, file: &str) -> String {
        self.ok(&["ceremony", kind, example(file).to_str().unwrap()])
    }

    /// An openssl P-256 key and CSR: a citizen's card stand-in.
    pub fn csr(&self, name: &str, subject: &str) -> PathBuf {
        let csr = self.path(&format!("{name}.csr"));
        openssl(
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                subject,
                "-keyout",
                self.path(&format!("{name}.key")).to_str().unwrap(),
                "-out",
                csr.to_str().unwrap(),
            ],
            self.dir.path(),
        );
        csr
    }

    /// Issues a cnie-auth certificate for a fresh CSR; returns its file and
    /// hex serial.
    pub fn citizen(&self, name: &str, cn: &str) -> (PathBuf, String) {
        let csr = self.csr(name, &format!("/C=MA/serialNumber=ID-{name}/CN={cn}"));
        let out = self.path(&format!("{name}.pem"));
        self.ok(&[
            "issue",
            "--ca",
            "cnie-citizen-ca",
            "--profile",
            "cnie-auth",
            "--csr",
            csr.to_str().unwrap(),
            "--san",
            &format!("email:{name}@cnie.example.ma"),
            "--out",
            out.to_str().unwrap(),
        ]);
        let serial = openssl_out(&["x509", "-in", out.to_str().unwrap(), "-noout", "-serial"]);
        let serial = serial.trim().trim_start_matches("serial=").to_owned();
        (out, serial)
    }

    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }
}

pub fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn openssl_out(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `openssl verify -crl_check` of `leaf` against root + CA + CRL; returns
/// (success, combined output).
pub fn openssl_verify(root: &Path, ca: &Path, crl: &Path, leaf: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["verify", "-x509_strict", "-crl_check", "-CAfile"])
        .arg(root)
        .arg("-untrusted")
        .arg(ca)
        .arg("-CRLfile")
        .arg(crl)
        .arg(leaf)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
