//! Officer credentials and PIN shares sealed to one officer.
//!
//! An officer is enrolled with one of:
//!
//! - an **X25519 public key** (RFC 7748) whose private key the officer
//!   keeps in a file (`pki officer keygen`: PKCS#8 `PRIVATE KEY` PEM, mode
//!   600, the form `openssl genpkey -algorithm X25519` writes). A share is
//!   sealed to it as in HPKE's base mode (RFC 9180), by hand: an ephemeral
//!   X25519 key, the shared secret through HKDF-SHA256 (RFC 5869, salt =
//!   ephemeral public key || officer public key), ChaCha20-Poly1305
//!   (RFC 8439) under the derived key;
//! - a **passphrase**: the store keeps an Argon2id hash of it (RFC 9106,
//!   PHC string, own salt), and a share is sealed under a key Argon2id
//!   derives from the passphrase with the share's own salt.
//!
//! The share file's header (token, split, threshold, officers, x) is the
//! AEAD's associated data: a share moved to another officer, split or
//! position does not open.

use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin};
use aws_lc_rs::hkdf;
use zeroize::Zeroizing;

use crate::error::{CliError, Result};

/// `kind` of an X25519 credential in the store.
pub const KIND_X25519: &str = "x25519";
/// `kind` of a passphrase credential in the store.
pub const KIND_PASSPHRASE: &str = "argon2id";

/// HKDF info and AEAD domain of version 1 of the share format.
const INFO: &[u8] = b"pki officer PIN share v1";
/// Argon2id cost of a passphrase: 19 MiB, 2 passes, 1 lane (OWASP's
/// minimum for Argon2id; RFC 9106 section 4 asks more of a server that
/// hashes on every login, not of a ceremony run a few times a year).
const M_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// RFC 8410: id-X25519 1.3.101.110. DER prefixes of its PKCS#8
/// PrivateKeyInfo (v1, no attributes) and SubjectPublicKeyInfo.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
];
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
];

/// An officer's X25519 key pair, read from or about to be written to a
/// private key file.
pub struct OfficerKey {
    private: PrivateKey,
    public: [u8; 32],
}

impl std::fmt::Debug for OfficerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OfficerKey(public {})",
            pki_core::cert::hex(&self.public)
        )
    }
}

fn crypto(what: &str) -> CliError {
    CliError::OfficerCrypto {
        what: what.to_owned(),
    }
}

impl OfficerKey {
    /// A new key pair from the system generator.
    pub fn generate() -> Result<Self> {
        let private = PrivateKey::generate(&X25519).map_err(|_| crypto("X25519 key generation"))?;
        Self::from_private(private)
    }

    fn from_private(private: PrivateKey) -> Result<Self> {
        let public = private
            .compute_public_key()
            .map_err(|_| crypto("X25519 public key"))?;
        let public: [u8; 32] = public
            .as_ref()
            .try_into()
            .map_err(|_| crypto("X25519 public key length"))?;
        Ok(Self { private, public })
    }

    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// The private key as PKCS#8 PEM (RFC 8410 section 7).
    pub fn private_pem(&self) -> Result<Zeroizing<String>> {
        let seed: Curve25519SeedBin<'_> = self
            .private
            .as_be_bytes()
            .map_err(|_| crypto("X25519 private key export"))?;
        let mut der = Zeroizing::new(PKCS8_PREFIX.to_vec());
        der.extend_from_slice(seed.as_ref());
        Ok(Zeroizing::new(pki_core::pem::encode("PRIVATE KEY", &der)))
    }

    /// The public key as SubjectPublicKeyInfo PEM.
    pub fn public_pem(&self) -> String {
        public_pem(&self.public)
    }

    /// Reads a private key file: PKCS#8 PEM of an X25519 key, owned by
    /// this user and open to nobody else.
    pub fn read(path: &Path) -> Result<Self> {
        private_file_mode(path)?;
        let bytes = Zeroizing::new(crate::config::read_limited(path, 4096)?);
        let bad = |reason: &str| CliError::OfficerKeyFile {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let mut ders = pki_core::pem::decode_all(&bytes, "PRIVATE KEY")
            .map_err(|_| bad("not a PEM PRIVATE KEY"))?;
        let der = Zeroizing::new(if ders.len() == 1 {
            ders.remove(0)
        } else {
            return Err(bad("expected one PRIVATE KEY"));
        });
        let seed = der
            .strip_prefix(&PKCS8_PREFIX[..])
            .filter(|s| s.len() == 32)
            .ok_or_else(|| bad("not an X25519 private key (RFC 8410 PKCS#8)"))?;
        let private = PrivateKey::from_private_key(&X25519, seed)
            .map_err(|_| bad("not an X25519 private key"))?;
        Self::from_private(private)
    }
}

/// An X25519 public key as SubjectPublicKeyInfo PEM.
pub fn public_pem(public: &[u8; 32]) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(public);
    pki_core::pem::encode("PUBLIC KEY", &der)
}

/// The X25519 public key in a PEM `PUBLIC KEY` file.
pub fn read_public(path: &Path) -> Result<[u8; 32]> {
    let bytes = crate::config::read_limited(path, 4096)?;
    let bad = |reason: &str| CliError::OfficerKeyFile {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let ders =
        pki_core::pem::decode_all(&bytes, "PUBLIC KEY").map_err(|_| bad("not a PEM PUBLIC KEY"))?;
    match ders.as_slice() {
        [der] => der
            .strip_prefix(&SPKI_PREFIX[..])
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or_else(|| bad("not an X25519 public key (RFC 8410)")),
        _ => Err(bad("expected one PUBLIC KEY")),
    }
}

/// Refuses a secret file another user owns or that grants group or
/// others any access (as ssh and the PIN file do).
pub fn private_file_mode(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(path).map_err(|source| CliError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mode = meta.mode() & 0o777;
        let user = rustix::process::geteuid().as_raw();
        if meta.uid() != user || mode & 0o077 != 0 {
            return Err(CliError::OfficerKeyFile {
                path: path.to_owned(),
                reason: format!(
                    "owned by uid {} with mode {mode:03o}: it must be yours and mode 600 or 400 (run `chmod 600 {}`)",
                    meta.uid(),
                    path.display()
                ),
            });
        }
    }
    Ok(())
}

/// A passphrase held in memory only while needed.
pub struct Passphrase(Zeroizing<String>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// Shortest passphrase accepted at enrolment.
pub const MIN_PASSPHRASE: usize = 12;

impl Passphrase {
    pub fn new(text: Zeroizing<String>) -> Self {
        Self(text)
    }

    /// The whole file less one trailing line break; the file must be the
    /// user's, mode 600 or 400.
    pub fn from_file(path: &Path) -> Result<Self> {
        private_file_mode(path)?;
        let bytes = Zeroizing::new(crate::config::read_limited(path, 4096)?);
        let text = std::str::from_utf8(&bytes).map_err(|_| CliError::OfficerKeyFile {
            path: path.to_owned(),
            reason: "passphrase is not UTF-8".into(),
        })?;
        let text = text
            .strip_suffix('\n')
            .map_or(text, |t| t.strip_suffix('\r').unwrap_or(t));
        Ok(Self(Zeroizing::new(text.to_owned())))
    }

    /// Asks on the terminal, without echo.
    pub fn prompt(question: &str) -> Result<Self> {
        read_without_echo(question).map(Self)
    }

    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Its Argon2id hash as a PHC string, with a fresh salt: what the
    /// store keeps.
    pub fn hash(&self) -> Result<String> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| crypto("random salt"))?;
        let salt = SaltString::encode_b64(&salt).map_err(|_| crypto("salt encoding"))?;
        Ok(argon2()?
            .hash_password(self.0.as_bytes(), &salt)
            .map_err(|_| crypto("Argon2id"))?
            .to_string())
    }

    /// Whether this is the passphrase `phc` (from the store) is a hash of.
    pub fn matches(&self, phc: &str) -> bool {
        PasswordHash::new(phc).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(self.0.as_bytes(), &hash)
                .is_ok()
        })
    }

    fn derive(&self, salt: &[u8], m: u32, t: u32, p: u32) -> Result<Zeroizing<[u8; 32]>> {
        let params = Params::new(m, t, p, Some(32)).map_err(|_| crypto("Argon2id parameters"))?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(self.0.as_bytes(), salt, &mut *key)
            .map_err(|_| crypto("Argon2id"))?;
        Ok(key)
    }
}

fn argon2() -> Result<Argon2<'static>> {
    let params =
        Params::new(M_KIB, T_COST, P_COST, None).map_err(|_| crypto("Argon2id parameters"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

#[cfg(unix)]
fn read_without_echo(question: &str) -> Result<Zeroizing<String>> {
    use std::io::{Read as _, Write as _};

    use rustix::termios::{self, LocalModes, OptionalActions};

    let tty_err = |source| CliError::Read {
        path: "/dev/tty".into(),
        source,
    };
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(tty_err)?;
    let saved = termios::tcgetattr(&tty).map_err(|e| tty_err(e.into()))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    termios::tcsetattr(&tty, OptionalActions::Flush, &quiet).map_err(|e| tty_err(e.into()))?;
    // Byte by byte, unbuffered: no reader's buffer keeps a copy.
    let mut line = Zeroizing::new(Vec::with_capacity(256));
    let read = (|| {
        let mut out = &tty;
        out.write_all(question.as_bytes())?;
        out.flush()?;
        let mut byte = Zeroizing::new([0u8; 1]);
        while line.len() < 4096 && (&tty).read(&mut *byte)? == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        Ok::<_, std::io::Error>(())
    })();
    let _ = termios::tcsetattr(&tty, OptionalActions::Flush, &saved);
    read.map_err(tty_err)?;
    while line.last() == Some(&b'\r') {
        line.pop();
    }
    let text = std::str::from_utf8(&line).map_err(|_| CliError::OfficerKeyFile {
        path: "/dev/tty".into(),
        reason: "passphrase is not UTF-8".into(),
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(not(unix))]
fn read_without_echo(_question: &str) -> Result<Zeroizing<String>> {
    Err(crypto("passphrase prompt (no terminal support here)"))
}

/// A share sealed to one officer, as its file stores it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Sealed {
    /// To an X25519 key: ephemeral public key, nonce, ciphertext (hex).
    X25519 {
        ephemeral: String,
        nonce: String,
        ciphertext: String,
    },
    /// Under an Argon2id key of the passphrase: salt and cost, nonce,
    /// ciphertext (hex).
    Argon2id {
        salt: String,
        m_kib: u32,
        t: u32,
        p: u32,
        nonce: String,
        ciphertext: String,
    },
}

/// What opens a share.
#[derive(Debug)]
pub enum Opener<'a> {
    Key(&'a OfficerKey),
    Passphrase(&'a Passphrase),
}

/// Whom a share is sealed to.
#[derive(Debug, Clone, Copy)]
pub enum Recipient<'a> {
    Key(&'a [u8; 32]),
    Passphrase(&'a Passphrase),
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| crypto("random generator"))?;
    Ok(out)
}

fn aead(key: &[u8]) -> Result<LessSafeKey> {
    Ok(LessSafeKey::new(
        UnboundKey::new(&CHACHA20_POLY1305, key).map_err(|_| crypto("ChaCha20-Poly1305 key"))?,
    ))
}

/// HKDF-SHA256 of the X25519 shared secret, salted with both public keys.
fn x25519_key(shared: &[u8], ephemeral: &[u8], officer: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>> {
    let mut salt = ephemeral.to_vec();
    salt.extend_from_slice(officer);
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &salt).extract(shared);
    let mut key = Zeroizing::new([0u8; 32]);
    prk.expand(&[INFO], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut *key))
        .map_err(|_| crypto("HKDF-SHA256"))?;
    Ok(key)
}

/// Seals `plain` to `to`, binding `header`.
pub fn seal(plain: &[u8], to: Recipient<'_>, header: &[u8]) -> Result<Sealed> {
    let nonce = random::<NONCE_LEN>()?;
    let hex = pki_core::cert::hex;
    let encrypt = |key: &[u8]| -> Result<Vec<u8>> {
        // Room for the tag up front: no reallocation leaves a copy of the
        // plaintext behind; the buffer is encrypted in place.
        let mut buf = Vec::with_capacity(plain.len() + CHACHA20_POLY1305.tag_len());
        buf.extend_from_slice(plain);
        aead(key)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut buf,
            )
            .map_err(|_| crypto("ChaCha20-Poly1305"))?;
        Ok(buf)
    };
    match to {
        Recipient::Key(officer) => {
            let ephemeral =
                PrivateKey::generate(&X25519).map_err(|_| crypto("X25519 key generation"))?;
            let eph_pub = ephemeral
                .compute_public_key()
                .map_err(|_| crypto("X25519 public key"))?;
            let key = agreement::agree(
                &ephemeral,
                UnparsedPublicKey::new(&X25519, officer),
                crypto("X25519 agreement"),
                |shared| x25519_key(shared, eph_pub.as_ref(), officer),
            )?;
            Ok(Sealed::X25519 {
                ephemeral: hex(eph_pub.as_ref()),
                nonce: hex(&nonce),
                ciphertext: hex(&encrypt(&*key)?),
            })
        }
        Recipient::Passphrase(passphrase) => {
            let salt = random::<16>()?;
            let key = passphrase.derive(&salt, M_KIB, T_COST, P_COST)?;
            Ok(Sealed::Argon2id {
                salt: hex(&salt),
                m_kib: M_KIB,
                t: T_COST,
                p: P_COST,
                nonce: hex(&nonce),
                ciphertext: hex(&encrypt(&*key)?),
            })
        }
    }
}

/// Why a sealed share did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFailure {
    /// The opener is not of the kind the share was sealed for.
    WrongKind,
    /// The share is malformed (bad hex, lengths, cost out of bounds).
    Malformed,
    /// Authentication failed: another officer's key or passphrase, or a
    /// changed file.
    NotYours,
}

/// Opens a share sealed by [`seal`] with the same `header`.
pub fn open(
    sealed: &Sealed,
    with: &Opener<'_>,
    header: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenFailure> {
    let decrypt = |key: &[u8], nonce: &str, ciphertext: &str| {
        let nonce: [u8; NONCE_LEN] = unhex(nonce)
            .and_then(|n| n.try_into().ok())
            .ok_or(OpenFailure::Malformed)?;
        let mut buf = Zeroizing::new(unhex(ciphertext).ok_or(OpenFailure::Malformed)?);
        let key = aead(key).map_err(|_| OpenFailure::Malformed)?;
        let len = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut buf,
            )
            .map_err(|_| OpenFailure::NotYours)?
            .len();
        buf.truncate(len);
        Ok(buf)
    };
    match (sealed, with) {
        (
            Sealed::X25519 {
                ephemeral,
                nonce,
                ciphertext,
            },
            Opener::Key(key),
        ) => {
            let eph = unhex(ephemeral)
                .filter(|e| e.len() == 32)
                .ok_or(OpenFailure::Malformed)?;
            let derived = agreement::agree(
                &key.private,
                UnparsedPublicKey::new(&X25519, &eph),
                OpenFailure::NotYours,
                |shared| x25519_key(shared, &eph, &key.public).map_err(|_| OpenFailure::Malformed),
            )?;
            decrypt(&*derived, nonce, ciphertext)
        }
        (
            Sealed::Argon2id {
                salt,
                m_kib,
                t,
                p,
                nonce,
                ciphertext,
            },
            Opener::Passphrase(passphrase),
        ) => {
            // Bounded cost: a forged file cannot make us allocate 4 TiB.
            if *m_kib > 1024 * 1024 || *t > 16 || *p > 8 {
                return Err(OpenFailure::Malformed);
            }
            let salt = unhex(salt).ok_or(OpenFailure::Malformed)?;
            let key = passphrase
                .derive(&salt, *m_kib, *t, *p)
                .map_err(|_| OpenFailure::Malformed)?;
            decrypt(&*key, nonce, ciphertext)
        }
        _ => Err(OpenFailure::WrongKind),
    }
}

/// Hex (either case) to bytes.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x25519_share_opens_for_its_officer_only() {
        let amina = OfficerKey::generate().unwrap();
        let youssef = OfficerKey::generate().unwrap();
        let sealed = seal(b"share", Recipient::Key(&amina.public()), b"hdr").unwrap();
        assert_eq!(
            &open(&sealed, &Opener::Key(&amina), b"hdr").unwrap()[..],
            b"share"
        );
        assert_eq!(
            open(&sealed, &Opener::Key(&youssef), b"hdr").unwrap_err(),
            OpenFailure::NotYours
        );
        assert_eq!(
            open(&sealed, &Opener::Key(&amina), b"other header").unwrap_err(),
            OpenFailure::NotYours
        );
        let pass = Passphrase::new(Zeroizing::new("x".repeat(12)));
        assert_eq!(
            open(&sealed, &Opener::Passphrase(&pass), b"hdr").unwrap_err(),
            OpenFailure::WrongKind
        );
    }

    #[test]
    fn passphrase_share_and_hash() {
        let right = Passphrase::new(Zeroizing::new("correct horse battery".into()));
        let wrong = Passphrase::new(Zeroizing::new("correct horse battery!".into()));
        let phc = right.hash().unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(right.matches(&phc));
        assert!(!wrong.matches(&phc));
        let sealed = seal(b"share", Recipient::Passphrase(&right), b"hdr").unwrap();
        assert_eq!(
            &open(&sealed, &Opener::Passphrase(&right), b"hdr").unwrap()[..],
            b"share"
        );
        assert_eq!(
            open(&sealed, &Opener::Passphrase(&wrong), b"hdr").unwrap_err(),
            OpenFailure::NotYours
        );
    }

    #[test]
    fn key_files_round_trip() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let key = OfficerKey::generate().unwrap();
        let path = dir.path().join("k.pem");
        std::fs::write(&path, key.private_pem().unwrap().as_bytes()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(OfficerKey::read(&path)
            .unwrap_err()
            .to_string()
            .contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(OfficerKey::read(&path).unwrap().public(), key.public());
        let public = dir.path().join("k.pub");
        std::fs::write(&public, key.public_pem()).unwrap();
        assert_eq!(read_public(&public).unwrap(), key.public());
    }
}
