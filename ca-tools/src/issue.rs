//! `pki issue`: a certificate under one of a CA's profiles, for a key from
//! a verified CSR, a key generated in the HSM or a given public key.

use std::path::PathBuf;

use der::{Decode, Encode};
use hsm::KeyLabel;
use pki_core::builder::{build_certificate, CertificateTemplate, GeneralNameSpec};
use pki_core::cert::hex;
use pki_core::Cert;
use serde_json::json;
use spki::SubjectPublicKeyInfoOwned;
use store::{AuditContext, Store};

use crate::ceremony::new_certificate;
use crate::config::{self, CaPolicy, GlobalArgs, KeyTypeName, OpsConfig, ProfileConfig};
use crate::error::{invalid, CliError, Result};
use crate::keystore;
use crate::lint::{self, CertKind, Expect};
use crate::profile::{end_entity_template, oids};
use crate::report::{self, say};
use crate::{csr, publish};

/// Arguments of `pki issue`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The issuing CA (its name in the store and its `[ca.NAME]` section).
    #[arg(long, value_name = "NAME")]
    pub ca: String,
    /// Profile name (a `[profile.NAME]` the CA allows).
    #[arg(long, value_name = "PROFILE")]
    pub profile: String,
    /// PKCS#10 request (PEM or DER); its signature is verified and its
    /// subject and key are used.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["subject", "key_label", "public_key"])]
    pub csr: Option<PathBuf>,
    /// Subject DN (RFC 4514) of an officer-made certificate.
    #[arg(long, value_name = "DN", required_unless_present_any = ["csr", "batch"])]
    pub subject: Option<String>,
    /// With --subject: generate the subject's key in the HSM under this label.
    #[arg(long, value_name = "LABEL", conflicts_with = "public_key")]
    pub key_label: Option<String>,
    /// Key type for --key-label.
    #[arg(long, value_name = "TYPE", default_value = "P-256")]
    pub key_type: KeyTypeName,
    /// With --subject: the subject's public key (PEM "PUBLIC KEY" or DER SPKI).
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// subjectAltName entry: dns:NAME, email:ADDR, uri:URI or ip:ADDR. Repeat for several.
    #[arg(long = "san", value_name = "NAME")]
    pub sans: Vec<String>,
    /// Where to write the certificate (PEM), or with --batch the results
    /// (JSON Lines); must not exist.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Card personalisation: issue every request of this JSON Lines file
    /// (one per line: {"id": ..., "csr": PEM} or {"id": ..., "subject": DN,
    /// "public_key": PEM, "san": [...]}). Output: one JSON line per input
    /// line, same order, with the certificate or why it failed. Run again
    /// after a crash: requests already issued are not issued twice.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["csr", "subject", "key_label", "public_key", "sans"])]
    pub batch: Option<PathBuf>,
    /// With --batch: requests per store transaction.
    #[arg(long, value_name = "N", default_value_t = crate::batch::DEFAULT_CHUNK, requires = "batch")]
    pub chunk: usize,
    /// With --batch: signing threads, one HSM session each (default: one
    /// per CPU).
    #[arg(long, value_name = "N", requires = "batch")]
    pub threads: Option<usize>,
    /// With --batch: no progress bar (it shows only on a terminal anyway).
    #[arg(long, requires = "batch")]
    pub no_progress: bool,
}

impl Args {
    /// The batch options, when --batch is given.
    pub fn batch_options(&self) -> Option<crate::batch::BatchOptions> {
        use std::io::IsTerminal as _;
        let file = self.batch.clone()?;
        Some(crate::batch::BatchOptions {
            file,
            out: self.out.clone(),
            chunk: self.chunk,
            threads: self.threads.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            }),
            progress: !self.no_progress && std::io::stderr().is_terminal(),
        })
    }
}

/// An issued certificate.
#[derive(Debug, Clone)]
pub struct Issued {
    pub serial: store::Serial,
    pub der: Vec<u8>,
    pub audit_seq: u64,
}

/// The CA's policy and the profile it is asked to issue under.
pub fn policy_and_profile<'a>(
    ops: &'a config::Loaded<OpsConfig>,
    ca: &str,
    profile: &str,
) -> Result<(&'a CaPolicy, &'a ProfileConfig)> {
    let policy = ops
        .value
        .ca
        .get(ca)
        .ok_or_else(|| CliError::CaNotConfigured {
            ca: ca.into(),
            path: ops.path.clone(),
        })?;
    if !policy.profiles.iter().any(|p| p == profile) {
        return Err(CliError::ProfileNotAllowed {
            ca: ca.into(),
            profile: profile.into(),
            allowed: policy.profiles.join(", "),
        });
    }
    let config = ops
        .value
        .profile
        .get(profile)
        .ok_or_else(|| CliError::UnknownProfile {
            profile: profile.into(),
        })?;
    if config.validity_days == 0 {
        return Err(invalid(
            format!("profile.{profile}.validity_days"),
            "must be at least 1",
        ));
    }
    Ok((policy, config))
}

fn read_public_key(path: &std::path::Path) -> Result<SubjectPublicKeyInfoOwned> {
    let bytes = config::read_limited(path, 64 * 1024)?;
    let der = pki_core::pem::decode_all(&bytes, "PUBLIC KEY")
        .map_err(|e| invalid(path.display().to_string(), e.to_string()))?;
    SubjectPublicKeyInfoOwned::from_der(&der[0]).map_err(|e| {
        invalid(
            path.display().to_string(),
            format!("not a SubjectPublicKeyInfo: {e}"),
        )
    })
}

/// A CA ready to issue under one profile: the store, its HSM signer and
/// its certificate, opened once for many certificates.
#[derive(Debug)]
pub struct Issuer {
    pub store: Store,
    pub pool: hsm::SessionPool,
    pub ca: store::Ca,
    pub ca_cert: Cert,
    pub signer: hsm::HsmSigner,
    profile_name: String,
    profile: ProfileConfig,
    policy: CaPolicy,
    policies: Vec<const_oid::ObjectIdentifier>,
    actor: String,
}

/// What to certify.
#[derive(Debug, Clone)]
pub struct Subject {
    pub name: x509_cert::name::Name,
    pub public_key: SubjectPublicKeyInfoOwned,
    pub sans: Vec<GeneralNameSpec>,
    /// Audit inputs (hash of the CSR or public key file).
    pub inputs: Vec<[u8; 32]>,
    /// Audit details about where the key came from.
    pub key_note: serde_json::Value,
}

impl Issuer {
    /// Opens the store and the token and checks the CA may issue under
    /// `profile` (from the operations config).
    pub async fn open(g: &GlobalArgs, ca: &str, profile: &str) -> Result<Self> {
        let actor = g.actor()?;
        let ops = g.require_ops_config()?;
        let (policy, config) = policy_and_profile(&ops, ca, profile)?;
        let policies = oids("profile policies", &config.policies)?;
        let store = crate::database::open(&g.store_url(&[&ops.value.store])).await?;
        let pool = keystore::open(&g.hsm(&[&ops.value.hsm])?)?;
        let record = store.require_ca(ca).await?;
        let ca_cert = keystore::ca_certificate(&record)?;
        let signer = keystore::ca_signer(&pool, &record, &ca_cert)?;
        Ok(Self {
            store,
            pool,
            ca: record,
            ca_cert,
            signer,
            profile_name: profile.into(),
            profile: config.clone(),
            policy: policy.clone(),
            policies,
            actor,
        })
    }

    /// The end-entity template for `subject` with `public_key`, its serial
    /// still unset.
    fn template(
        &self,
        subject: &Subject,
        public_key: SubjectPublicKeyInfoOwned,
    ) -> Result<CertificateTemplate> {
        end_entity_template(
            &self.profile,
            &self.policy,
            self.ca_cert.subject(),
            subject.name.clone(),
            public_key,
            subject.sans.clone(),
        )
    }

    /// What the lint expects of a certificate under this profile, and the
    /// name its findings give the certificate.
    fn expect(&self) -> (Expect<'_>, String) {
        let expect = Expect {
            kind: CertKind::EndEntity {
                kind: self.profile.kind,
                qualified: self.profile.qualified,
            },
            issuer: Some(&self.ca_cert),
            policies: &self.policies,
        };
        (expect, format!("{} certificate", self.profile_name))
    }

    /// The officer named in the audit entries.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The profile's name in the operations config.
    pub fn profile_name(&self) -> &str {
        &self.profile_name
    }

    /// The profile's kind, as audit entries give it.
    pub fn profile_kind(&self) -> &'static str {
        self.profile.kind.as_str()
    }

    /// The TBS certificate `subject` would get, with a placeholder serial:
    /// what a request decides of its certificate.
    pub fn request_tbs(&self, subject: &Subject) -> Result<x509_cert::TbsCertificate> {
        let mut tpl = self.template(subject, subject.public_key.clone())?;
        tpl.serial = vec![1];
        Ok(tpl.tbs_certificate(&self.signer)?)
    }

    /// Builds the certificate for `subject` with `serial`, lints its TBS,
    /// signs it in the HSM, decodes and verifies the result and lints it
    /// again. Records nothing: see [`Issuer::issue`].
    pub fn sign(&self, subject: &Subject, serial: &store::Serial) -> Result<Cert> {
        let mut tpl = self.template(subject, subject.public_key.clone())?;
        tpl.serial = serial.as_bytes().to_vec();
        let (expect, what) = self.expect();
        lint::before_signing(&tpl.tbs_certificate(&self.signer)?, &expect, &what)?;
        let der = build_certificate(&tpl, &self.signer)?;
        lint::after_signing(&der, &expect, &what)
    }

    /// Lints the certificate `subject` would get, with `public_key` replaced
    /// by a stand-in and a random serial: run before generating a key in the
    /// HSM, so a refused certificate leaves no key behind.
    pub fn precheck(&self, subject: &Subject) -> Result<()> {
        let mut tpl = self.template(subject, lint::stand_in_key())?;
        tpl.serial = store::Serial::random()?.as_bytes().to_vec();
        let (expect, what) = self.expect();
        lint::before_signing(&tpl.tbs_certificate(&self.signer)?, &expect, &what)
    }

    /// Allocates a random serial, [`Issuer::sign`]s and records the
    /// certificate with its audit entry, all in one transaction: the serial
    /// is reserved, the certificate signed and recorded under the store's
    /// write lock, and a failure anywhere leaves neither behind.
    pub async fn issue(&self, subject: Subject) -> Result<Issued> {
        let mut tx = self.store.begin().await?;
        let serial = tx.allocate_serial(self.ca.id).await?;
        let cert = self.sign(&subject, &serial)?;
        let mut audit = AuditContext::new(self.actor.clone()).with_details(json!({
            "profile_kind": self.profile.kind.as_str(),
            "subject": cert.subject_string(),
            "key": subject.key_note,
        }));
        for input in subject.inputs {
            audit = audit.with_input(input);
        }
        let recorded = tx
            .record_certificate(
                &new_certificate(self.ca.id, &cert, &self.profile_name)?,
                &audit,
            )
            .await?;
        tx.commit().await?;
        Ok(Issued {
            serial,
            der: cert.der().to_vec(),
            audit_seq: recorded.audit_seq,
        })
    }
}

/// `pki issue`
pub async fn run(args: &Args, g: &GlobalArgs) -> Result<Issued> {
    // Held until the file is written: a second run for the same file
    // waits, then finds it there before issuing anything.
    let _lock = match &args.out {
        Some(out) => {
            let lock = publish::wait_for_lock(out).await?;
            publish::ensure_absent(out, "certificate file")?;
            Some(lock)
        }
        None => None,
    };
    let sans = args
        .sans
        .iter()
        .map(|s| config::general_name("--san", s))
        .collect::<Result<Vec<GeneralNameSpec>>>()?;
    let issuer = Issuer::open(g, &args.ca, &args.profile).await?;

    let mut inputs = Vec::new();
    let (name, public_key, key_note) = if let Some(path) = &args.csr {
        let req = csr::read(path)?;
        inputs.push(req.sha256);
        (
            req.subject,
            req.public_key,
            json!({ "csr": path.display().to_string() }),
        )
    } else {
        // clap requires --subject without --csr.
        let dn = args.subject.as_deref().unwrap_or_default();
        let subject = config::name("--subject", dn)?;
        if let Some(label) = &args.key_label {
            let label = KeyLabel::new(label.clone())?;
            if keystore::key_exists(&issuer.pool, &label)? {
                return Err(CliError::AlreadyExists {
                    what: "HSM key label",
                    name: format!("{:?} on token {}", label.as_str(), issuer.pool.token()),
                });
            }
            issuer.precheck(&Subject {
                name: subject.clone(),
                public_key: lint::stand_in_key(),
                sans: sans.clone(),
                inputs: Vec::new(),
                key_note: serde_json::Value::Null,
            })?;
            let key = issuer.pool.generate_key(&label, args.key_type.0)?;
            say!(
                "generated {} key {:?} in the HSM, CKA_ID {}",
                key.key_type,
                label.as_str(),
                key.id
            );
            (
                subject,
                key.spki.clone(),
                json!({ "key_label": label.as_str(), "key_id": key.id.to_string() }),
            )
        } else if let Some(path) = &args.public_key {
            let spki = read_public_key(path)?;
            inputs.push(store::sha256(&spki.to_der()?));
            (
                subject,
                spki,
                json!({ "public_key": path.display().to_string() }),
            )
        } else {
            return Err(invalid(
                "pki issue",
                "--subject needs --key-label (new HSM key) or --public-key FILE",
            ));
        }
    };

    let issued = issuer
        .issue(Subject {
            name,
            public_key,
            sans,
            inputs,
            key_note,
        })
        .await?;
    let cert = Cert::from_der(&issued.der).map_err(|source| CliError::PostSignCheck {
        what: "certificate".into(),
        source,
    })?;
    // Without --out the PEM goes to stdout alone, so it can be redirected.
    let report = format!(
        "issued {} certificate serial {} by {:?} for {}; SHA-256 {}; audit entry {}",
        args.profile,
        issued.serial,
        issuer.ca.name,
        cert.subject_string(),
        hex(cert.fingerprint()),
        issued.audit_seq
    );
    if let Some(out) = &args.out {
        publish::stage(
            out,
            pki_core::pem::encode("CERTIFICATE", &issued.der).as_bytes(),
        )?
        .publish_new()?;
        say!("{report}");
        say!("wrote {}", out.display());
    } else {
        eprintln!("{report}");
        report::text(format_args!(
            "{}",
            pki_core::pem::encode("CERTIFICATE", &issued.der)
        ));
    }
    issuer.store.close().await;
    Ok(issued)
}
