//! `pki ceremony root|intermediate|ocsp-signer`: key pair generated in the
//! HSM, certificate built, linted, signed by the parent's HSM key, checked
//! again, written out and recorded in the store with its audit entry.
//!
//! Nothing is overwritten: the CA name, the key label and the certificate
//! file are checked before the key is generated, and again where they are
//! written (the token refuses a duplicate label, the store a duplicate CA,
//! the file system an existing file). `--dry-run` runs every check up to
//! key generation, lints the certificate with a stand-in key, prints the
//! plan and changes nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::Encode;
use hsm::{HsmSigner, KeyInfo, KeyLabel, SessionPool};
use pki_core::builder::{
    build_certificate, BasicConstraintsSpec, CertificateTemplate, GeneralNameSpec, KeyUsageSpec,
    NameConstraintsSpec,
};
use pki_core::cert::hex;
use pki_core::{Cert, SignError, Signer};
use serde_json::json;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use store::{AuditContext, NewCa, NewCertificate, Serial, Store};
use time::OffsetDateTime;
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::name::Name;

use crate::config::{
    self, CaCertificateSpec, GlobalArgs, HsmSection, IntermediateCeremony, KeySpec, Loaded,
    OcspSignerCeremony, RootCeremony,
};
use crate::database::{self, redact};
use crate::error::{invalid, CliError, Result};
use crate::keystore;
use crate::lint::{self, CertKind, Expect};
use crate::officer::{OfficerArgs, Unlock};
use crate::profile::{distribution_points, oids};
use crate::publish;
use crate::report::say;

/// Arguments of each `pki ceremony` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The ceremony file (strict TOML; see examples/ceremony/).
    #[arg(value_name = "CEREMONY.toml")]
    pub file: PathBuf,
    /// Check everything and print what would happen; generate, sign, write
    /// and record nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub officers: OfficerArgs,
}

/// Arguments of `pki ceremony ocsp-signer`.
#[derive(Debug, Clone, clap::Args)]
pub struct OcspSignerArgs {
    #[command(flatten)]
    pub ceremony: Args,
    /// Issue the successor of the certificate at the ceremony's `output`
    /// and put it in its place (the old one is kept beside it, named by
    /// its serial). `[key] label` names the key: the current
    /// certificate's key (same key), or a label not on the token yet (a
    /// new key, generated). A responder following the file reloads it; for
    /// a new key, set its `key_label` too.
    #[arg(long)]
    pub renew: bool,
}

/// What a finished ceremony produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub certificate: PathBuf,
    pub der: Vec<u8>,
    pub key_label: String,
    /// `None` after a dry run.
    pub audit_seq: Option<u64>,
}

/// The self-signer of a root before its key exists: it names an algorithm
/// and a public key, and never signs.
struct Placeholder(SubjectPublicKeyInfoOwned);

impl Signer for Placeholder {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        pki_core::signature::SignatureAlgorithm::EcdsaSha256.identifier()
    }
    fn public_key(&self) -> SubjectPublicKeyInfoOwned {
        self.0.clone()
    }
    fn sign(&self, _tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        Err(SignError::Failed("placeholder key cannot sign".into()))
    }
}

/// The settings a ceremony resolved, for the plan print-out.
struct Resolved {
    store_url: String,
    hsm: config::HsmSettings,
}

/// The settings; a ceremony that records something (not a dry run) needs
/// its actor, checked before anything is generated.
fn resolve(
    g: &GlobalArgs,
    store: &config::StoreSection,
    hsm: &HsmSection,
    dry_run: bool,
) -> Result<(Resolved, Option<Loaded<config::OpsConfig>>)> {
    if !dry_run {
        g.actor()?;
    }
    let ops = g.ops_config()?;
    let default_store = config::StoreSection::default();
    let default_hsm = HsmSection::default();
    let (ops_store, ops_hsm) = ops.as_ref().map_or((&default_store, &default_hsm), |o| {
        (&o.value.store, &o.value.hsm)
    });
    Ok((
        Resolved {
            store_url: g.store_url(&[store, ops_store]),
            hsm: g.hsm(&[hsm, ops_hsm])?,
        },
        ops,
    ))
}

/// The parts of a CA certificate common to roots and intermediates, as
/// the ceremony (and its dry run) lints them before any key exists.
pub fn ca_template(
    spec: &CaCertificateSpec,
    subject: Name,
    issuer: Name,
    spki: SubjectPublicKeyInfoOwned,
    serial: &[u8],
) -> Result<CertificateTemplate> {
    if spec.validity_days == 0 {
        return Err(invalid("certificate.validity_days", "must be at least 1"));
    }
    let now = SystemTime::now();
    let mut tpl = CertificateTemplate::new(subject, spki);
    tpl.issuer = issuer;
    tpl.serial = serial.to_vec();
    tpl.not_before = now;
    tpl.not_after = now + Duration::from_secs(u64::from(spec.validity_days) * 86_400);
    tpl.basic_constraints = Some(BasicConstraintsSpec::ca(spec.path_len));
    tpl.key_usage = Some(KeyUsageSpec::new(
        KeyUsages::KeyCertSign | KeyUsages::CRLSign,
    ));
    tpl.certificate_policies = oids("certificate.policies", &spec.policies)?;
    if let Some(nc) = &spec.name_constraints {
        let list = |field: &str, names: &[String]| {
            names
                .iter()
                .map(|n| config::general_name(field, n))
                .collect::<Result<Vec<_>>>()
        };
        tpl.name_constraints = Some(NameConstraintsSpec {
            permitted: list("name_constraints.permitted", &nc.permitted)?,
            excluded: list("name_constraints.excluded", &nc.excluded)?,
        });
    }
    tpl.crl_distribution_points = distribution_points(&spec.crl_distribution_points);
    tpl.ocsp_urls.clone_from(&spec.ocsp_urls);
    tpl.ca_issuers_urls.clone_from(&spec.ca_issuers_urls);
    Ok(tpl)
}

/// Refuses an existing key label.
fn key_label_free(pool: &SessionPool, spec: &KeySpec) -> Result<KeyLabel> {
    let label = KeyLabel::new(spec.label.clone())?;
    if keystore::key_exists(pool, &label)? {
        return Err(CliError::AlreadyExists {
            what: "HSM key label",
            name: format!("{:?} on token {}", spec.label, pool.token()),
        });
    }
    Ok(label)
}

async fn ca_name_free(store: &Store, name: &str) -> Result<()> {
    if store.ca(name).await?.is_some() {
        return Err(CliError::AlreadyExists {
            what: "CA record",
            name: format!("{name:?} in the store"),
        });
    }
    Ok(())
}

/// Holds off other runs writing the same certificate file until this one
/// has written it or failed (no lock for a dry run, which writes nothing).
async fn lock_output(output: &Path, dry_run: bool) -> Result<Option<publish::Lock>> {
    if dry_run {
        return Ok(None);
    }
    publish::wait_for_lock(output).await.map(Some)
}

/// Refuses an existing certificate file, CA record (`new_ca`, when the
/// ceremony creates one) or key label, in that order, and a quorum of
/// officers short (before the HSM is touched); returns the open store, the
/// new key's token, its label and how the token was unlocked.
async fn preflight(
    resolved: &Resolved,
    output: &Path,
    new_ca: Option<&str>,
    key: &KeySpec,
    officers: &OfficerArgs,
) -> Result<(Store, SessionPool, KeyLabel, Unlock)> {
    publish::ensure_absent(output, "certificate file")?;
    let store = database::open(&resolved.store_url).await?;
    if let Some(name) = new_ca {
        ca_name_free(&store, name).await?;
    }
    let unlock = officers.unlock(&store, &resolved.hsm.token).await?;
    let pool = unlock.open(&resolved.hsm)?;
    let label = key_label_free(&pool, key)?;
    Ok((store, pool, label, unlock))
}

/// The issuing CA, its certificate and its signer.
async fn issuer_parts(
    store: &Store,
    pool: &SessionPool,
    name: &str,
) -> Result<(store::Ca, Cert, HsmSigner)> {
    let ca = store.require_ca(name).await?;
    let cert = keystore::ca_certificate(&ca)?;
    let signer = keystore::ca_signer(pool, &ca, &cert)?;
    if !cert.is_ca() || !cert.key_usage_allows(KeyUsages::KeyCertSign) {
        return Err(CliError::IssuerUnfit {
            ca: name.into(),
            reason: "its certificate is not a CA certificate with keyCertSign".into(),
        });
    }
    Ok((ca, cert, signer))
}

fn print_plan(
    kind: &str,
    name: &str,
    resolved: &Resolved,
    key: &KeySpec,
    unlock: &Unlock,
    dry_run: bool,
) {
    if dry_run {
        say!(
            "ceremony {kind} {name:?}: DRY RUN, nothing is generated, signed, written or recorded"
        );
    } else {
        say!("ceremony {kind} {name:?}");
    }
    say!("  store     {}", redact(&resolved.store_url));
    say!(
        "  token     {} (PIN from {}), module {}",
        resolved.hsm.token,
        resolved.hsm.pin,
        resolved.hsm.module.display()
    );
    say!("  PIN       {}", unlock.describe());
    say!(
        "  key       {:?} {} (label free)",
        key.label,
        key.key_type.0
    );
}

fn print_template(tpl: &CertificateTemplate, policies: &[ObjectIdentifier], output: &Path) {
    say!("  subject   {}", tpl.subject);
    say!("  issuer    {}", tpl.issuer);
    let days = tpl
        .not_after
        .duration_since(tpl.not_before)
        .map_or(0, |d| d.as_secs() / 86_400);
    say!("  validity  {days} days");
    if let Some(bc) = tpl.basic_constraints {
        say!("  cA        {} pathLen {:?}", bc.ca, bc.path_len);
    }
    if !policies.is_empty() {
        let list: Vec<String> = policies.iter().map(ToString::to_string).collect();
        say!("  policies  {}", list.join(", "));
    }
    if let Some(nc) = &tpl.name_constraints {
        let show = |list: &[GeneralNameSpec]| {
            list.iter()
                .map(general_name_text)
                .collect::<Vec<_>>()
                .join(", ")
        };
        say!(
            "  names     permitted [{}] excluded [{}]",
            show(&nc.permitted),
            show(&nc.excluded)
        );
    }
    for dp in &tpl.crl_distribution_points {
        for name in &dp.full_name {
            say!("  CDP       {}", general_name_text(name));
        }
    }
    for u in &tpl.ocsp_urls {
        say!("  OCSP      {u}");
    }
    for u in &tpl.ca_issuers_urls {
        say!("  caIssuers {u}");
    }
    if tpl.ocsp_no_check {
        say!("  EKU       id-kp-OCSPSigning, id-pkix-ocsp-nocheck");
    }
    say!("  output    {} (file free)", output.display());
}

/// A general name as written in the config files.
fn general_name_text(name: &GeneralNameSpec) -> String {
    match name {
        GeneralNameSpec::Dns(s) => format!("dns:{s}"),
        GeneralNameSpec::Email(s) => format!("email:{s}"),
        GeneralNameSpec::Uri(s) => format!("uri:{s}"),
        GeneralNameSpec::Ip(ip) => format!("ip:{ip}"),
        GeneralNameSpec::IpSubnet(ip, prefix) => format!("ip:{ip}/{prefix}"),
        GeneralNameSpec::Directory(dn) => format!("dn:{dn}"),
        GeneralNameSpec::Raw(raw) => format!("{raw:?}"),
    }
}

fn unix(t: pki_core::UnixTime) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.0)
        .ok()
        .ok_or_else(|| invalid("certificate validity", "out of range"))
}

/// The store row of a signed certificate.
pub fn new_certificate(ca: store::CaId, cert: &Cert, profile: &str) -> Result<NewCertificate> {
    Ok(NewCertificate {
        ca,
        serial: Serial::from_der_content(cert.serial())?,
        subject_der: cert.subject().to_der()?,
        not_before: unix(cert.not_before())?,
        not_after: unix(cert.not_after())?,
        der: cert.der().to_vec(),
        profile: profile.into(),
    })
}

fn generated(key: &KeyInfo) {
    say!(
        "  generated {} key {:?} in the HSM, CKA_ID {}",
        key.key_type,
        key.label.as_str(),
        key.id
    );
}

fn signed(cert: &Cert) {
    say!(
        "  signed    serial {}, SHA-256 {}; re-parsed, signature verified, lint passed",
        hex(cert.serial()),
        hex(cert.fingerprint())
    );
}

fn details(kind: &str, file: &Path, key: &KeyInfo, extra: serde_json::Value) -> serde_json::Value {
    let more = match extra {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let mut d = json!({
        "ceremony": kind,
        "file": file.display().to_string(),
        "key_label": key.label.as_str(),
        "key_id": key.id.to_string(),
        "key_type": key.key_type.name(),
        "lint": "passed before and after signing",
    });
    if let Some(map) = d.as_object_mut() {
        map.extend(more);
    }
    d
}

/// Who signs the new certificate.
#[derive(Clone, Copy)]
enum SignedBy<'a> {
    /// The new key itself (a root), under the random serial drawn for the
    /// checks.
    Itself,
    /// The issuing CA's HSM key, under a serial allocated from the CA's
    /// counter once the checks pass.
    Issuer(store::CaId, &'a HsmSigner),
}

/// What one ceremony states once its pre-flight checks have passed and its
/// template is drawn up; [`Plan::sign`] runs the steps all share.
struct Plan<'a> {
    /// `root`, `intermediate` or `ocsp-signer`.
    kind: &'static str,
    /// The certificate as lint findings name it.
    what: String,
    expect: Expect<'a>,
    signed_by: SignedBy<'a>,
    key: &'a KeySpec,
    label: KeyLabel,
    /// Sign for this key already on the token instead of generating one
    /// (`ocsp-signer --renew` on the same key).
    existing_key: Option<KeyInfo>,
    output: &'a Path,
    g: &'a GlobalArgs,
    /// The ceremony file and its SHA-256, for the audit entry.
    file: &'a Path,
    input: [u8; 32],
    /// The audit details particular to this ceremony.
    details: serde_json::Value,
}

/// A certificate signed, checked and staged, awaiting its store records.
struct Signed {
    der: Vec<u8>,
    cert: Cert,
    staged: publish::Staged,
    audit: AuditContext,
    output: PathBuf,
    key_label: String,
}

impl Plan<'_> {
    /// Lints `tpl` with its stand-in key and prints it; after a dry run
    /// returns `None`. Otherwise allocates the serial, generates the key in
    /// the HSM, lints again, signs, checks the signed certificate and stages
    /// its file.
    async fn sign(
        self,
        mut tpl: CertificateTemplate,
        dry_run: bool,
        store: &Store,
        pool: &SessionPool,
    ) -> Result<Option<Signed>> {
        let stand_in;
        let check_signer: &dyn Signer = match self.signed_by {
            SignedBy::Itself => {
                stand_in = Placeholder(tpl.subject_public_key.clone());
                &stand_in
            }
            SignedBy::Issuer(_, signer) => signer,
        };
        lint::before_signing(
            &tpl.tbs_certificate(check_signer)?,
            &self.expect,
            &self.what,
        )?;
        print_template(&tpl, self.expect.policies, self.output);
        if dry_run {
            say!("  lint      passed with a stand-in key; dry run ends here");
            return Ok(None);
        }

        if let SignedBy::Issuer(ca, _) = self.signed_by {
            tpl.serial = store.allocate_serial(ca).await?.as_bytes().to_vec();
        }
        let key = if let Some(key) = self.existing_key {
            say!(
                "  key       {:?} already on the token, CKA_ID {}: kept",
                key.label.as_str(),
                key.id
            );
            key
        } else {
            let key = pool.generate_key(&self.label, self.key.key_type.0)?;
            generated(&key);
            key
        };
        let own;
        let signer: &dyn Signer = match self.signed_by {
            SignedBy::Itself => {
                own = pool.signer(key.clone())?;
                &own
            }
            SignedBy::Issuer(_, signer) => signer,
        };
        tpl.subject_public_key = key.spki.clone();
        lint::before_signing(&tpl.tbs_certificate(signer)?, &self.expect, &self.what)?;
        let der = build_certificate(&tpl, signer)?;
        let cert = lint::after_signing(&der, &self.expect, &self.what)?;
        signed(&cert);

        let staged = publish::stage(
            self.output,
            pki_core::pem::encode("CERTIFICATE", &der).as_bytes(),
        )?;
        let audit = AuditContext::new(self.g.actor()?)
            .with_input(self.input)
            .with_details(details(self.kind, self.file, &key, self.details));
        Ok(Some(Signed {
            der,
            cert,
            staged,
            audit,
            output: self.output.to_owned(),
            key_label: self.key.label.clone(),
        }))
    }
}

impl Signed {
    /// Writes the certificate file once the store holds its records (told
    /// in `recorded`), and closes the store.
    async fn publish(self, store: Store, recorded: &str, audit_seq: u64) -> Result<Outcome> {
        self.staged.publish_new()?;
        say!("  recorded  {recorded}");
        say!("  wrote     {}", self.output.display());
        store.close().await;
        Ok(Outcome {
            certificate: self.output,
            der: self.der,
            key_label: self.key_label,
            audit_seq: Some(audit_seq),
        })
    }
}

impl Signed {
    /// [`Signed::publish`] in place of the file there (a renewal).
    async fn replace(self, store: Store, recorded: &str, audit_seq: u64) -> Result<Outcome> {
        self.staged.publish_replace()?;
        say!("  recorded  {recorded}");
        say!("  replaced  {}", self.output.display());
        store.close().await;
        Ok(Outcome {
            certificate: self.output,
            der: self.der,
            key_label: self.key_label,
            audit_seq: Some(audit_seq),
        })
    }
}

impl Outcome {
    /// What a dry run reports.
    fn planned(output: &Path, key: &KeySpec) -> Self {
        Self {
            certificate: output.to_owned(),
            der: Vec::new(),
            key_label: key.label.clone(),
            audit_seq: None,
        }
    }
}

/// `pki ceremony root`
pub async fn root(args: &Args, g: &GlobalArgs) -> Result<Outcome> {
    let file: Loaded<RootCeremony> = config::load(&args.file)?;
    let c = &file.value;
    let (resolved, _) = resolve(g, &c.store, &c.hsm, args.dry_run)?;
    let subject = config::name("certificate.subject", &c.certificate.subject)?;
    let kind = CertKind::Root {
        path_len: c.certificate.path_len,
    };
    let policies = oids("certificate.policies", &c.certificate.policies)?;

    // Pre-flight: nothing may exist yet.
    let _lock = lock_output(&c.output, args.dry_run).await?;
    let (store, pool, label, unlock) =
        preflight(&resolved, &c.output, Some(&c.name), &c.key, &args.officers).await?;
    print_plan("root", &c.name, &resolved, &c.key, &unlock, args.dry_run);

    let serial = Serial::random()?;
    let tpl = ca_template(
        &c.certificate,
        subject.clone(),
        subject.clone(),
        lint::stand_in_key(),
        serial.as_bytes(),
    )?;
    let plan = Plan {
        kind: "root",
        what: format!("root certificate of {:?}", c.name),
        expect: Expect {
            kind,
            issuer: None,
            policies: &policies,
        },
        signed_by: SignedBy::Itself,
        key: &c.key,
        label,
        existing_key: None,
        output: &c.output,
        g,
        file: &file.path,
        input: file.sha256,
        details: unlock
            .annotate(json!({ "level": c.level, "output": c.output.display().to_string() })),
    };
    let Some(s) = plan.sign(tpl, args.dry_run, &store, &pool).await? else {
        return Ok(Outcome::planned(&c.output, &c.key));
    };

    let mut tx = store.begin().await?;
    let ca = tx
        .insert_ca(
            &NewCa {
                name: c.name.clone(),
                subject_der: subject.to_der()?,
                cert_der: s.der.clone(),
                key_label: c.key.label.clone(),
                parent: None,
                tier: c.tier.clone(),
            },
            &s.audit,
        )
        .await?;
    // The root is its own issuer: its certificate is recorded under itself.
    let recorded = tx
        .record_certificate(
            &new_certificate(ca.record.id, &s.cert, "root-ca")?,
            &s.audit,
        )
        .await?;
    tx.commit().await?;
    let line = format!(
        "CA {:?} ({}) in the store, audit entries {}..{}",
        c.name, ca.record.id, ca.audit_seq, recorded.audit_seq
    );
    s.publish(store, &line, recorded.audit_seq).await
}

/// `pki ceremony intermediate`
pub async fn intermediate(args: &Args, g: &GlobalArgs) -> Result<Outcome> {
    let file: Loaded<IntermediateCeremony> = config::load(&args.file)?;
    let c = &file.value;
    let (resolved, ops) = resolve(g, &c.store, &c.hsm, args.dry_run)?;
    let subject = config::name("certificate.subject", &c.certificate.subject)?;
    let kind = CertKind::Intermediate {
        path_len: c.certificate.path_len,
    };
    let policies = oids("certificate.policies", &c.certificate.policies)?;

    let _lock = lock_output(&c.output, args.dry_run).await?;
    let (store, pool, label, unlock) =
        preflight(&resolved, &c.output, Some(&c.name), &c.key, &args.officers).await?;
    let parent_pool = match &c.parent_hsm {
        Some(section) => {
            let ops_hsm = ops
                .as_ref()
                .map(|o| o.value.hsm.clone())
                .unwrap_or_default();
            // The parent's token: [parent_hsm], then [hsm], then the
            // operations config; not the --token override, which names the
            // new key's token.
            let no_cli = GlobalArgs {
                token: None,
                pin_file: None,
                ..g.clone()
            };
            let settings = no_cli.hsm(&[section, &c.hsm, &ops_hsm])?;
            unlock.open(&settings)?
        }
        None => pool.clone(),
    };
    let (parent, parent_cert, parent_signer) =
        issuer_parts(&store, &parent_pool, &c.parent).await?;
    if let Some(bc) = &parent_cert.extensions().basic_constraints {
        if let Some(limit) = bc.value.path_len_constraint {
            let fits = limit > 0 && c.certificate.path_len.is_some_and(|p| p < limit);
            if !fits {
                return Err(CliError::IssuerUnfit {
                    ca: c.parent.clone(),
                    reason: format!(
                        "its pathLenConstraint {limit} leaves no room for a CA with pathLen {:?}",
                        c.certificate.path_len
                    ),
                });
            }
        }
    }
    print_plan(
        "intermediate",
        &c.name,
        &resolved,
        &c.key,
        &unlock,
        args.dry_run,
    );
    say!(
        "  parent    {:?} ({}), key {:?}",
        parent.name,
        parent.id,
        parent.key_label
    );

    // A random serial stands in until the checks pass: neither a dry run
    // nor a refused ceremony uses one up.
    let serial = Serial::random()?;
    let tpl = ca_template(
        &c.certificate,
        subject.clone(),
        parent_cert.subject().clone(),
        lint::stand_in_key(),
        serial.as_bytes(),
    )?;
    let plan = Plan {
        kind: "intermediate",
        what: format!("CA certificate of {:?}", c.name),
        expect: Expect {
            kind,
            issuer: Some(&parent_cert),
            policies: &policies,
        },
        signed_by: SignedBy::Issuer(parent.id, &parent_signer),
        key: &c.key,
        label,
        existing_key: None,
        output: &c.output,
        g,
        file: &file.path,
        input: file.sha256,
        details: unlock.annotate(json!({
            "parent": c.parent,
            "level": c.level,
            "output": c.output.display().to_string(),
        })),
    };
    let Some(s) = plan.sign(tpl, args.dry_run, &store, &pool).await? else {
        return Ok(Outcome::planned(&c.output, &c.key));
    };

    let mut tx = store.begin().await?;
    let issued = tx
        .record_certificate(
            &new_certificate(parent.id, &s.cert, "intermediate-ca")?,
            &s.audit,
        )
        .await?;
    let ca = tx
        .insert_ca(
            &NewCa {
                name: c.name.clone(),
                subject_der: subject.to_der()?,
                cert_der: s.der.clone(),
                key_label: c.key.label.clone(),
                parent: Some(parent.id),
                tier: c.tier.clone(),
            },
            &s.audit,
        )
        .await?;
    tx.commit().await?;
    let line = format!(
        "CA {:?} ({}) under {:?}, audit entries {}..{}",
        c.name, ca.record.id, parent.name, issued.audit_seq, ca.audit_seq
    );
    s.publish(store, &line, ca.audit_seq).await
}

/// `pki ceremony ocsp-signer`
pub async fn ocsp_signer(args: &Args, g: &GlobalArgs) -> Result<Outcome> {
    ocsp_signer_with(
        &OcspSignerArgs {
            ceremony: args.clone(),
            renew: false,
        },
        g,
    )
    .await
}

/// The certificate an `ocsp-signer --renew` replaces.
struct Predecessor {
    cert: Cert,
    /// Where it is kept once replaced.
    kept_as: PathBuf,
}

/// Checks the certificate at `output` is an OCSP signer certificate of
/// `issuer_cert`, and that `[key] label` is its key or a free label;
/// returns it and the key to keep (`None`: generate one).
fn predecessor(
    output: &Path,
    issuer_cert: &Cert,
    pool: &SessionPool,
    key: &KeySpec,
) -> Result<(Predecessor, KeyLabel, Option<KeyInfo>)> {
    let refuse = |reason: String| CliError::RenewRefused {
        output: output.to_owned(),
        reason,
    };
    let bytes = std::fs::read(output).map_err(|e| refuse(format!("cannot read it: {e}")))?;
    let der = if bytes.starts_with(b"-----BEGIN") {
        pki_core::pem::decode_all(&bytes, "CERTIFICATE")
            .ok()
            .and_then(|mut v| (v.len() == 1).then(|| v.remove(0)))
            .ok_or_else(|| refuse("not one PEM CERTIFICATE".into()))?
    } else {
        bytes
    };
    let cert = Cert::from_der(&der).map_err(|e| refuse(format!("not a certificate: {e}")))?;
    if cert.issuer_der() != issuer_cert.subject_der()
        || cert
            .verify_signed_by(issuer_cert, pki_core::AlgorithmPolicy::Default)
            .is_err()
    {
        return Err(refuse("it was not issued by this ceremony's issuer".into()));
    }
    let ocsp_signing = cert
        .extensions()
        .ext_key_usage
        .as_ref()
        .is_some_and(|e| e.value.contains(&pki_core::oid::KP_OCSP_SIGNING));
    if !ocsp_signing {
        return Err(refuse("it is not an OCSP signer certificate".into()));
    }
    let label = KeyLabel::new(key.label.clone())?;
    let existing = if keystore::key_exists(pool, &label)? {
        let found = pool.find_key(&label)?;
        if found.spki.to_der()? != cert.spki_der() {
            return Err(refuse(format!(
                "key {:?} is on the token but is not this certificate's key; name the certificate's key to renew on the same key, or a new label for a new key",
                key.label
            )));
        }
        Some(found)
    } else {
        None
    };
    let mut kept_as = output.as_os_str().to_owned();
    kept_as.push(format!(".{}", hex(cert.serial())));
    let kept_as = PathBuf::from(kept_as);
    publish::ensure_absent(&kept_as, "copy of the renewed certificate")?;
    Ok((Predecessor { cert, kept_as }, label, existing))
}

/// `pki ceremony ocsp-signer [--renew]`
pub async fn ocsp_signer_with(args: &OcspSignerArgs, g: &GlobalArgs) -> Result<Outcome> {
    let renew = args.renew;
    let args = &args.ceremony;
    let file: Loaded<OcspSignerCeremony> = config::load(&args.file)?;
    let c = &file.value;
    let (resolved, _) = resolve(g, &c.store, &c.hsm, args.dry_run)?;
    let subject = config::name("certificate.subject", &c.certificate.subject)?;
    if c.certificate.validity_days == 0 {
        return Err(invalid("certificate.validity_days", "must be at least 1"));
    }

    let _lock = lock_output(&c.output, args.dry_run).await?;
    let (store, pool, label, renewing, unlock) = if renew {
        let store = database::open(&resolved.store_url).await?;
        let unlock = args.officers.unlock(&store, &resolved.hsm.token).await?;
        let pool = unlock.open(&resolved.hsm)?;
        let issuer_cert = keystore::ca_certificate(&store.require_ca(&c.issuer).await?)?;
        let (old, label, existing) = predecessor(&c.output, &issuer_cert, &pool, &c.key)?;
        (store, pool, label, Some((old, existing)), unlock)
    } else {
        let (store, pool, label, unlock) =
            preflight(&resolved, &c.output, None, &c.key, &args.officers).await?;
        (store, pool, label, None, unlock)
    };
    let (issuer, issuer_cert, issuer_signer) = issuer_parts(&store, &pool, &c.issuer).await?;
    print_plan(
        "ocsp-signer",
        &c.issuer,
        &resolved,
        &c.key,
        &unlock,
        args.dry_run,
    );
    let (renews, existing_key) = match renewing {
        Some((old, existing)) => {
            say!(
                "  renews    serial {} (until {}), on {}; kept as {}",
                hex(old.cert.serial()),
                old.cert.not_after().0,
                if existing.is_some() {
                    "the same key"
                } else {
                    "a new key"
                },
                old.kept_as.display()
            );
            (Some(old), existing)
        }
        None => (None, None),
    };

    // A random serial stands in until the checks pass: neither a dry run
    // nor a refused ceremony uses one up.
    let serial = Serial::random()?;
    let now = SystemTime::now();
    let mut tpl = CertificateTemplate::new(subject, lint::stand_in_key());
    tpl.issuer = issuer_cert.subject().clone();
    tpl.serial = serial.as_bytes().to_vec();
    tpl.not_before = now;
    tpl.not_after = now + Duration::from_secs(u64::from(c.certificate.validity_days) * 86_400);
    tpl.basic_constraints = Some(BasicConstraintsSpec {
        critical: true,
        ..BasicConstraintsSpec::end_entity()
    });
    tpl.key_usage = Some(KeyUsageSpec::new(KeyUsages::DigitalSignature));
    tpl.extended_key_usage = vec![pki_core::oid::KP_OCSP_SIGNING];
    tpl.ocsp_no_check = true;
    let plan = Plan {
        kind: "ocsp-signer",
        what: format!("OCSP signer certificate for {:?}", c.issuer),
        expect: Expect {
            kind: CertKind::OcspSigner,
            issuer: Some(&issuer_cert),
            policies: &[],
        },
        signed_by: SignedBy::Issuer(issuer.id, &issuer_signer),
        key: &c.key,
        label,
        existing_key: existing_key.clone(),
        output: &c.output,
        g,
        file: &file.path,
        input: file.sha256,
        details: unlock.annotate(json!({
            "issuer": c.issuer,
            "output": c.output.display().to_string(),
            "renews": renews.as_ref().map(|o| hex(o.cert.serial())),
            "same_key": renews.as_ref().map(|_| existing_key.is_some()),
        })),
    };
    let Some(s) = plan.sign(tpl, args.dry_run, &store, &pool).await? else {
        return Ok(Outcome::planned(&c.output, &c.key));
    };

    let recorded = store
        .record_certificate(
            &new_certificate(issuer.id, &s.cert, "ocsp-signer")?,
            &s.audit,
        )
        .await?;
    let line = format!(
        "OCSP signer certificate under {:?}, audit entry {}",
        issuer.name, recorded.audit_seq
    );
    if let Some(old) = renews {
        // The old certificate is kept first: the output is never missing,
        // and a crash between the two steps leaves both files.
        std::fs::copy(&c.output, &old.kept_as).map_err(|source| CliError::Write {
            path: old.kept_as.clone(),
            source,
        })?;
        return s.replace(store, &line, recorded.audit_seq).await;
    }
    s.publish(store, &line, recorded.audit_seq).await
}
