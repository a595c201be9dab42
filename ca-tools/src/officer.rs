//! `pki officer`: dual control (M of N) over the CA tokens.
//!
//! - `keygen` makes an officer's X25519 key pair (the private key file
//!   mode 600, never leaving the officer's hands);
//! - `add NAME` enrols an officer with that public key or a passphrase
//!   (its Argon2id hash is kept), in the store and its audit log;
//! - `list` shows who is enrolled;
//! - `split-pin` splits a token's user PIN k-of-n ([`shamir`]) and seals
//!   one share to each officer ([`seal`]), one share file each
//!   ([`share`]);
//! - CA-key operations (ceremonies, revoking a CA certificate, CRLs run
//!   by hand) take the shares of the officers present ([`quorum`]).

pub mod quorum;
pub mod seal;
pub mod shamir;
pub mod share;

use std::path::PathBuf;

use serde_json::json;
use store::{AuditRecord, NewOfficer};
use time::OffsetDateTime;

use crate::config::GlobalArgs;
use crate::error::{invalid, CliError, Result};
use crate::report::say;
pub use quorum::{OfficerArgs, Unlock};
use seal::{OfficerKey, Passphrase, Recipient};
use share::ShareFile;

/// Arguments of `pki officer keygen`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// The private key file to write (PKCS#8 PEM, mode 600; never
    /// overwritten); the public key goes to FILE.pub.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Arguments of `pki officer add`.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("credential").required(true).args(["public_key", "passphrase", "passphrase_file"])))]
pub struct AddArgs {
    /// The officer's name, as audit entries will show it.
    pub name: String,
    /// The officer's X25519 public key (`pki officer keygen` FILE.pub, or
    /// `openssl pkey -pubout` of an X25519 key).
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Enrol with a passphrase instead, asked twice on the terminal
    /// without echo.
    #[arg(long)]
    pub passphrase: bool,
    /// Enrol with the passphrase held in FILE (mode 600); never on the
    /// command line.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// Arguments of `pki officer list`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// One JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `pki officer split-pin`.
#[derive(Debug, Clone, clap::Args)]
pub struct SplitArgs {
    /// How many officers must be present to rebuild the PIN (k).
    #[arg(long, value_name = "K")]
    pub threshold: u8,
    /// The enrolled officers who each receive a share (n), comma-separated.
    #[arg(
        long,
        value_name = "NAME,NAME,...",
        value_delimiter = ',',
        required = true
    )]
    pub officers: Vec<String>,
    /// Directory for the share files, NAME.share each (mode 600, never
    /// overwritten).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// NAME=FILE: passphrase file of a passphrase officer (else asked on
    /// the terminal); repeat.
    #[arg(long = "officer-passphrase-file", value_name = "NAME=FILE")]
    pub passphrase_files: Vec<String>,
}

/// The store named by the global options and the operations config.
async fn open_store(g: &GlobalArgs) -> Result<store::Store> {
    let ops = g.ops_config()?;
    let section = ops.map(|o| o.value.store).unwrap_or_default();
    crate::database::open(&g.store_url(&[&section])).await
}

/// Officer names as they appear in audit entries and file names.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "officer name",
            format!("{name:?}: 1 to 64 of A-Z a-z 0-9 - _ . (not starting with .)"),
        ))
    }
}

/// `pki officer keygen`
pub fn keygen(args: &KeygenArgs) -> Result<()> {
    let key = OfficerKey::generate()?;
    let mut public = args.out.clone().into_os_string();
    public.push(".pub");
    let public = PathBuf::from(public);
    crate::publish::ensure_absent(&public, "public key file")?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    crate::publish::write_private(&args.out, key.private_pem()?.as_bytes())?;
    crate::publish::write_private(&public, key.public_pem().as_bytes())?;
    say!(
        "wrote private key {} (mode 600: keep it to yourself) and public key {}",
        args.out.display(),
        public.display()
    );
    say!(
        "enrol with: pki officer add NAME --public-key {}",
        public.display()
    );
    Ok(())
}

/// `pki officer add`
pub async fn add(args: &AddArgs, g: &GlobalArgs) -> Result<store::Officer> {
    let actor = g.actor()?;
    check_name(&args.name)?;
    let (kind, credential) = if let Some(path) = &args.public_key {
        (seal::KIND_X25519, seal::read_public(path)?.to_vec())
    } else {
        let passphrase = if let Some(path) = &args.passphrase_file {
            Passphrase::from_file(path)?
        } else {
            let first = Passphrase::prompt(&format!("new passphrase of officer {}: ", args.name))?;
            let again = Passphrase::prompt("the same passphrase again: ")?;
            if !again.matches(&first.hash()?) {
                return Err(invalid("passphrase", "the two passphrases differ"));
            }
            first
        };
        if passphrase.len() < seal::MIN_PASSPHRASE {
            return Err(invalid(
                "passphrase",
                format!("at least {} characters", seal::MIN_PASSPHRASE),
            ));
        }
        (seal::KIND_PASSPHRASE, passphrase.hash()?.into_bytes())
    };
    let store = open_store(g).await?;
    let done = store
        .add_officer(
            &NewOfficer {
                name: args.name.clone(),
                credential_kind: kind.into(),
                credential,
            },
            &store::AuditContext::new(actor),
        )
        .await?;
    say!(
        "enrolled officer {:?} ({kind}); committed (audit entry {})",
        args.name,
        done.audit_seq
    );
    store.close().await;
    Ok(done.record)
}

/// What `list` shows of a credential: the X25519 key's SHA-256 (to read
/// out against the officer's own copy) or the hash's kind.
fn fingerprint(officer: &store::Officer) -> String {
    if officer.credential_kind == seal::KIND_X25519 {
        let hex = pki_core::cert::hex(&store::sha256(&officer.credential));
        format!("SHA-256 {}", &hex[..32])
    } else {
        "passphrase (Argon2id)".into()
    }
}

/// `pki officer list`
pub async fn list(args: &ListArgs, g: &GlobalArgs) -> Result<Vec<store::Officer>> {
    let store = open_store(g).await?;
    let officers = store.officers().await?;
    store.close().await;
    if args.json {
        let value: Vec<_> = officers
            .iter()
            .map(|o| {
                json!({
                    "name": o.name,
                    "credential_kind": o.credential_kind,
                    "credential": fingerprint(o),
                    "public_key": (o.credential_kind == seal::KIND_X25519)
                        .then(|| pki_core::cert::hex(&o.credential)),
                    "enrolled_at": crate::report::rfc3339(o.enrolled_at),
                })
            })
            .collect();
        crate::report::json(&json!({ "officers": value }), true);
    } else {
        let mut table = crate::report::Table::new(&["NAME", "CREDENTIAL", "KEY", "ENROLLED"]);
        for o in &officers {
            table.push(vec![
                o.name.clone(),
                o.credential_kind.clone(),
                fingerprint(o),
                crate::report::rfc3339(o.enrolled_at),
            ]);
        }
        table.print();
        say!("{} officer(s)", officers.len());
    }
    Ok(officers)
}

/// `pki officer split-pin`
pub async fn split_pin(args: &SplitArgs, g: &GlobalArgs) -> Result<Vec<PathBuf>> {
    let actor = g.actor()?;
    let n = args.officers.len();
    let k = usize::from(args.threshold);
    if k < 2 || k > n || n > 255 {
        return Err(invalid(
            "--threshold",
            format!("{k} of {n} officers: need 2 <= K <= number of officers <= 255"),
        ));
    }
    let mut names = args.officers.clone();
    names.sort();
    if let Some([twice, _]) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(invalid("--officers", format!("{twice:?} named twice")));
    }
    let ops = g.ops_config()?;
    let (store_section, hsm_section) = ops
        .map(|o| (o.value.store, o.value.hsm))
        .unwrap_or_default();
    let settings = g.hsm(&[&hsm_section])?;
    let store = crate::database::open(&g.store_url(&[&store_section])).await?;
    let mut officers = Vec::with_capacity(n);
    for name in &names {
        let officer = store
            .officer(name)
            .await?
            .ok_or_else(|| CliError::OfficerNotEnrolled {
                officer: name.clone(),
            })?;
        officers.push(officer);
    }
    // Passphrase officers type theirs now: a share is sealed under a key
    // derived from it.
    let passphrase_args = OfficerArgs {
        passphrase_files: args.passphrase_files.clone(),
        ..OfficerArgs::default()
    };
    let mut passphrases = Vec::with_capacity(n);
    for officer in &officers {
        passphrases.push(if officer.credential_kind == seal::KIND_PASSPHRASE {
            let p = passphrase_args.passphrase(&officer.name)?;
            if !p.matches(std::str::from_utf8(&officer.credential).unwrap_or_default()) {
                return Err(CliError::ShareNotOpened {
                    officer: officer.name.clone(),
                    path: args.out_dir.clone(),
                    reason: "wrong passphrase".into(),
                });
            }
            Some(p)
        } else {
            None
        });
    }
    // The PIN must open the token before it is split.
    let pin = settings.pin.read()?;
    drop(crate::keystore::open_with_pin(&settings, pin.clone())?);
    let secret = share::pad(pin.expose_for_splitting())
        .ok_or_else(|| invalid("PIN", "longer than 255 bytes"))?;
    let shares = shamir::split(&secret, k, n).map_err(|e| invalid("split", e.to_string()))?;
    drop(secret);
    let mut split = [0u8; 16];
    aws_lc_rs::rand::fill(&mut split).map_err(|_| CliError::OfficerCrypto {
        what: "random generator".into(),
    })?;
    let split = pki_core::cert::hex(&split);
    let created_at = crate::report::rfc3339(OffsetDateTime::now_utc());
    std::fs::create_dir_all(&args.out_dir).map_err(|source| CliError::Write {
        path: args.out_dir.clone(),
        source,
    })?;
    for officer in &officers {
        crate::publish::ensure_absent(
            &args.out_dir.join(format!("{}.share", officer.name)),
            "share file",
        )?;
    }
    let mut written = Vec::with_capacity(n);
    let mut digests = Vec::with_capacity(n);
    for ((officer, share), passphrase) in officers.iter().zip(&shares).zip(&passphrases) {
        let mut file = ShareFile {
            format: share::FORMAT.into(),
            token: settings.token.as_str().to_owned(),
            split: split.clone(),
            threshold: args.threshold,
            officers: names.clone(),
            officer: officer.name.clone(),
            x: share.x,
            created_at: created_at.clone(),
            // Replaced once the header is known.
            sealed: seal::Sealed::X25519 {
                ephemeral: String::new(),
                nonce: String::new(),
                ciphertext: String::new(),
            },
        };
        let header = file.header();
        file.sealed = if let Some(p) = passphrase {
            seal::seal(&share.y, Recipient::Passphrase(p), &header)?
        } else {
            let public: [u8; 32] =
                officer.credential[..]
                    .try_into()
                    .map_err(|_| CliError::OfficerCrypto {
                        what: format!("public key of officer {:?} in the store", officer.name),
                    })?;
            seal::seal(&share.y, Recipient::Key(&public), &header)?
        };
        let path = file.write(&args.out_dir)?;
        digests.push(store::sha256(&std::fs::read(&path).map_err(|source| {
            CliError::Read {
                path: path.clone(),
                source,
            }
        })?));
        say!(
            "  share {} for {:?}: {}",
            share.x,
            officer.name,
            path.display()
        );
        written.push(path);
    }
    let entry = store
        .append_audit(&AuditRecord {
            actor,
            action: "officer.split_pin".into(),
            inputs_sha256: Vec::new(),
            outputs_sha256: digests,
            details: json!({
                "token": settings.token.as_str(),
                "split": split,
                "threshold": args.threshold,
                "officers": names,
            }),
        })
        .await?;
    say!(
        "split the user PIN of token {} {k}-of-{n} (split {split}); recorded (audit entry {})",
        settings.token,
        entry.seq
    );
    say!("hand each officer their share file; any {k} of them together can now unlock the token");
    store.close().await;
    Ok(written)
}
